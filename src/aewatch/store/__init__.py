"""The database side of ingest: every read and write of trial data the pipeline does.

Stages in aewatch.pipeline decide *what* happens; this package is *how* it reaches
the database, in bulk and inside the caller's transaction. Nothing here commits,
alerts or grades: one module per kind of record (subjects, adverse events, labs,
courses, quarantine, source files, rule status) plus the reads the stages need.
"""
