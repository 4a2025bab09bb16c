"""Which role may call which route: the single table the authorizer and the handlers share."""

from __future__ import annotations

from chalicelib.auth.tokens import Role

ANY_ROLE = frozenset(Role)
ADMIN_ONLY = frozenset({Role.ADMIN})
USER_ONLY = frozenset({Role.USER})

ROUTE_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("/auth/logout", "POST"): ANY_ROLE,
    ("/users/me", "GET"): ANY_ROLE,
    ("/users/me/password", "PUT"): ANY_ROLE,
    ("/users", "POST"): ADMIN_ONLY,
    ("/users", "GET"): ADMIN_ONLY,
    ("/users/{username}", "GET"): ADMIN_ONLY,
    ("/users/{username}", "DELETE"): ADMIN_ONLY,
    ("/ecgs", "POST"): USER_ONLY,
    ("/ecgs", "GET"): USER_ONLY,
    ("/ecgs/uploads", "POST"): USER_ONLY,
    ("/ecgs/{id}", "GET"): USER_ONLY,
    ("/ecgs/{id}", "DELETE"): USER_ONLY,
    ("/ecgs/{id}/insights", "GET"): USER_ONLY,
    ("/ecgs/{id}/beats", "GET"): USER_ONLY,
    ("/ecgs/{id}/signal", "GET"): USER_ONLY,
}

PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("/auth/token", "POST"),
        ("/openapi.json", "GET"),
        ("/docs", "GET"),
        ("/docs/swagger-ui-bundle.js", "GET"),
        ("/docs/swagger-ui.css", "GET"),
        ("/docs/init.js", "GET"),
        ("/", "GET"),
        ("/viewer/app.js", "GET"),
        ("/viewer/app.css", "GET"),
        ("/viewer/vendor/uPlot.iife.min.js", "GET"),
        ("/viewer/vendor/uPlot.min.css", "GET"),
    }
)


def roles_for(path: str, method: str) -> frozenset[Role]:
    """Deny by default: a route missing from the table admits no role."""
    return ROUTE_ROLES.get((path, method), frozenset())


def routes_for(role: Role) -> list[tuple[str, str]]:
    return [route for route, roles in ROUTE_ROLES.items() if role in roles]
