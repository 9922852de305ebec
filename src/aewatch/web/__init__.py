"""`aewatch serve`: acknowledge alerts from the email, and a read-only safety board.

An entry point like ``commands``: it may use ``alerts``, ``reports`` and ``store`` but
nothing below imports it. Starlette and uvicorn are imported only here, so no other
command pays for them at start-up.
"""
