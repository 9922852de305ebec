"""`aewatch serve`: the acknowledgement pages and the read-only safety board (Starlette).

| path | what |
|---|---|
| ``GET /alerts/{id}/ack?t=…`` | the alert and an "Acknowledge as …" button; changes nothing |
| ``POST /alerts/{id}/ack`` | acknowledges (link token + the page's form token + its cookie) |
| ``GET /board/enter?t=…`` | checks a board link, starts a short session, opens the board |
| ``GET /board`` | open alerts and clocks, stopping rules, counts, latest DSMB report |
| ``GET /board/counts.json?by=…`` | the counts, as `aewatch counts --format json` prints them |
| ``GET /board/reports/{id}.html`` / ``.pdf`` | the stored DSMB report |
| ``GET /healthz`` | "ok" when the database answers (for the proxy and systemd) |

Mail scanners GET every link, so no GET writes anything. Handlers are async only to
read the request; database work runs in Starlette's thread pool.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from aewatch.alerts.links import BOARD, LinkError, verify
from aewatch.reports.counting import trial_pk_for
from aewatch.runtime import Runtime
from aewatch.web import board, pages
from aewatch.web.ack import (
    CheckedLink,
    LinkRefused,
    acknowledge_from_link,
    check_link,
    refusal,
    summary_variables,
)
from aewatch.web.security import (
    REPORT_POLICY,
    RateLimiter,
    SecurityHeaders,
    form_token,
    form_token_ok,
    new_form_nonce,
    session_recipient,
    session_value,
)

log = logging.getLogger("aewatch.web")

FORM_COOKIE = "aewatch_form"
SESSION_COOKIE = "aewatch_board"
MAX_BODY_BYTES = 16 * 1024


class WebApp:
    """The pages, bound to one runtime (settings, database, clock) and the secret."""

    def __init__(self, runtime: Runtime, secret: str) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.secret = secret
        self.clock = runtime.clock
        self.root = urlsplit(self.settings.web.base_url).path
        self.limiter = RateLimiter(self.settings.web.token_checks_per_minute, self.clock.now)

    # -- helpers ----------------------------------------------------------------------------

    def html(self, name: str, status: int = 200, **variables: Any) -> HTMLResponse:
        body = pages.page(name, base_path=self.root, trial_id=self.settings.trial.id, **variables)
        return HTMLResponse(body, status_code=status)

    def refused(self, problem: LinkRefused) -> HTMLResponse:
        log.info("link refused: %s", problem.reason)
        return self.html(
            "refused.html", problem.status, title=problem.title, message=problem.message
        )

    def too_many(self) -> HTMLResponse:
        log.warning("rate limit: too many link checks")
        response = self.html(
            "refused.html",
            429,
            title="Too many attempts",
            message="Too many links were checked from your address in the last minute. "
            "Nothing was changed. Wait a minute, then open the link again.",
        )
        response.headers["Retry-After"] = "60"
        return response

    def secure(self, request: Request) -> bool:
        """Secure cookies behind HTTPS: the configured address, or the proxy's
        X-Forwarded-Proto (uvicorn trusts it from the loopback proxy only)."""
        return request.url.scheme == "https" or self.settings.web.base_url.startswith("https:")

    def client(self, request: Request) -> str:
        return request.client.host if request.client else "-"

    # -- acknowledgement ----------------------------------------------------------------------

    async def ack_page(self, request: Request) -> Response:
        """GET: shows the alert and the button. Reads only, whoever or whatever asks."""
        if not self.limiter.allow(self.client(request)):
            return self.too_many()
        alert_id = int(request.path_params["alert_id"])
        token = request.query_params.get("t", "")
        nonce = request.cookies.get(FORM_COOKIE) or new_form_nonce()
        now = self.clock.now()
        try:
            link, summary = await run_in_threadpool(self._read_link, token, alert_id, now)
        except LinkRefused as problem:
            return self.refused(problem)
        response = self.html(
            "ack.html",
            state="already" if link.root.acknowledged_at else "ready",
            link=link,
            original=link.root,
            summary=summary,
            now=now,
            token=token,
            form_token=form_token(self.secret, nonce, token),
        )
        self._set_cookie(
            request, response, FORM_COOKIE, nonce, f"{self.root}/alerts", timedelta(hours=2)
        )
        return response

    def _read_link(self, token: str, alert_id: int, now: Any) -> tuple[CheckedLink, Any]:
        with self.runtime.sessions() as session:
            link = check_link(session, self.secret, token, alert_id, now)
            return link, pages.alert_body(link.root.kind, summary_variables(link), now)

    async def ack_post(self, request: Request) -> Response:
        """POST: acknowledges once, as the link's recipient, if the form came from the
        page (its token matches this browser's form cookie and the link)."""
        if not self.limiter.allow(self.client(request)):
            return self.too_many()
        alert_id = int(request.path_params["alert_id"])
        form = await self._form(request)
        if form is None:
            return self.refused(
                LinkRefused(
                    400,
                    "bad-form",
                    "This request cannot be read",
                    "Use the Acknowledge button on the page the email link opens. Nothing was "
                    "changed.",
                )
            )
        token = form.get("t", "")
        if self._cross_site(request) or not form_token_ok(
            self.secret, request.cookies.get(FORM_COOKIE), token, form.get("csrf")
        ):
            return self.refused(
                LinkRefused(
                    403,
                    "csrf",
                    "Please confirm on the acknowledgement page",
                    "This confirmation did not come from the page the email link opened (or the "
                    "page is too old). Nothing was changed. Open the link from the email again "
                    "and press the button there.",
                )
            )
        now = self.clock.now()
        try:
            link, done = await run_in_threadpool(
                self._acknowledge, token, alert_id, form.get("note"), now
            )
        except LinkRefused as problem:
            return self.refused(problem)
        if done:
            log.info("alert=%s acknowledged through an email link", link.root.id)
        return self.html(
            "ack.html",
            state="done" if done else "already",
            link=link,
            original=link.root,
            summary=None,
            now=now,
            token="",
            form_token="",
        )

    def _acknowledge(
        self, token: str, alert_id: int, note: str | None, now: Any
    ) -> tuple[CheckedLink, bool]:
        with self.runtime.sessions() as session, session.begin():
            link = check_link(session, self.secret, token, alert_id, now)
            root, done = acknowledge_from_link(session, link, note, now)
            return CheckedLink(link.grant, link.alert_id, root, link.trial_id), done

    async def _form(self, request: Request) -> dict[str, str] | None:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return None
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return None
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return None
        return {key: values[0] for key, values in fields.items()}

    def _cross_site(self, request: Request) -> bool:
        """Fetch metadata and Origin, where the browser sends them. With
        ``Referrer-Policy: no-referrer`` a same-origin form sends ``Origin: null``, so the
        form token (and its SameSite=Strict cookie) remain the real check."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return True
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return False
        base = self.settings.web.base_url
        expected = base if base else f"{request.url.scheme}://{request.url.netloc}"
        parts = urlsplit(expected)
        return origin != f"{parts.scheme}://{parts.netloc}"

    def _set_cookie(
        self,
        request: Request,
        response: Response,
        name: str,
        value: str,
        path: str,
        lifetime: timedelta,
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=int(lifetime.total_seconds()),
            path=path,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
        )

    # -- safety board -------------------------------------------------------------------------

    async def board_enter(self, request: Request) -> Response:
        """A board link from an email starts a short session, then the board opens in a
        same-site navigation (a SameSite=Strict cookie is not sent on the redirect of a
        navigation that started in a webmail page)."""
        if not self.limiter.allow(self.client(request)):
            return self.too_many()
        now = self.clock.now()
        try:
            grant = verify(self.secret, request.query_params.get("t", ""), BOARD, now)
        except LinkError as exc:
            return self.refused(refusal(exc))
        if grant.recipient not in self._recipients():
            return self.refused(
                LinkRefused(
                    403,
                    "not-a-recipient",
                    "This link no longer opens the board",
                    "The board is for the people the trial's alerts go to, and this address is "
                    "no longer among them.",
                )
            )
        lifetime = timedelta(minutes=self.settings.web.session_minutes)
        response = self.html("enter.html")
        self._set_cookie(
            request,
            response,
            SESSION_COOKIE,
            session_value(self.secret, grant.recipient, now + lifetime),
            f"{self.root}/board",
            lifetime,
        )
        return response

    def _recipients(self) -> set[str]:
        alerts = self.settings.alerts
        return {
            *alerts.sae,
            *alerts.threshold,
            *alerts.dsmb,
            *alerts.fallback,
            *alerts.escalation_chain,
            alerts.from_address,
        }

    def _viewer(self, request: Request) -> Any:
        grant = session_recipient(
            self.secret, request.cookies.get(SESSION_COOKIE), self.clock.now()
        )
        if grant is None or grant.recipient not in self._recipients():
            return None
        return grant

    def signed_out(self) -> HTMLResponse:
        return self.html("signed-out.html", 401, minutes=int(self.settings.web.session_minutes))

    async def board_page(self, request: Request) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return self.signed_out()
        by = request.query_params.get("by", "term")
        if by not in board.COUNT_BY:
            by = "term"
        content = await run_in_threadpool(self._board_content, by)
        return self.html("board.html", viewer=viewer, by=by, count_by=board.COUNT_BY, **content)

    def _board_content(self, by: str) -> dict[str, Any]:
        now = self.clock.now()
        rules = board.rule_views(self.runtime)
        with self.runtime.sessions() as session:
            trial_pk = trial_pk_for(session, self.settings.trial.id)
            return {
                "now": now,
                "open_alerts": board.open_alerts(session, trial_pk, self.settings, now),
                "rules": rules,
                "counts": board.counts(session, self.settings, by, now),
                "report": board.latest_report(session, trial_pk),
            }

    async def board_counts(self, request: Request) -> Response:
        if self._viewer(request) is None:
            return self.signed_out()
        by = request.query_params.get("by", "term")
        if by not in board.COUNT_BY:
            return JSONResponse(
                {"error": f"by must be one of {', '.join(board.COUNT_BY)}"}, status_code=400
            )

        def read() -> dict[str, Any]:
            with self.runtime.sessions() as session:
                return board.counts(session, self.settings, by, self.clock.now())

        return JSONResponse(await run_in_threadpool(read))

    async def board_report(self, request: Request) -> Response:
        if self._viewer(request) is None:
            return self.signed_out()
        report_id = int(request.path_params["report_id"])
        kind = request.path_params["kind"]

        def find() -> Any:
            with self.runtime.sessions() as session:
                trial_pk = trial_pk_for(session, self.settings.trial.id)
                return board.report_file(session, trial_pk, report_id, kind)

        path = await run_in_threadpool(find) if kind in ("html", "pdf") else None
        if path is None:
            return self.html(
                "refused.html",
                404,
                title="No such report",
                message="This report is not (or no longer) on the server.",
            )
        media = "text/html; charset=utf-8" if kind == "html" else "application/pdf"
        return FileResponse(
            path, media_type=media, headers={"Content-Security-Policy": REPORT_POLICY}
        )

    # -- plumbing -----------------------------------------------------------------------------

    async def stylesheet(self, request: Request) -> Response:
        from importlib.resources import files

        css = files("aewatch.templates").joinpath("web", "web.css").read_text("utf-8")
        return Response(css, media_type="text/css")

    async def health(self, request: Request) -> Response:
        def ping() -> None:
            with self.runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        await run_in_threadpool(ping)
        return Response("ok\n", media_type="text/plain")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.html(
            "refused.html", 404, title="Not found", message="There is no page at this address."
        )

    async def server_error(self, request: Request, exc: Exception) -> Response:
        return self.html(
            "refused.html",
            500,
            title="Something went wrong",
            message="The server could not show this page. Nothing was changed. "
            "Try again in a minute; the server log has the details.",
        )


def create_app(runtime: Runtime, secret: str) -> SecurityHeaders:
    """The ASGI application; ``secret`` signs and checks links, forms and sessions. The
    security headers wrap everything, error pages included."""
    web = WebApp(runtime, secret)
    routes = [
        Route("/alerts/{alert_id:int}/ack", web.ack_page, methods=["GET"]),
        Route("/alerts/{alert_id:int}/ack", web.ack_post, methods=["POST"]),
        Route("/board/enter", web.board_enter, methods=["GET"]),
        Route("/board", web.board_page, methods=["GET"]),
        Route("/board/counts.json", web.board_counts, methods=["GET"]),
        Route("/board/reports/{report_id:int}.{kind}", web.board_report, methods=["GET"]),
        Route("/static/web.css", web.stylesheet, methods=["GET"]),
        Route("/healthz", web.health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: web.not_found, 500: web.server_error},
        max_body_size=MAX_BODY_BYTES,
    )
    return SecurityHeaders(app)
