"""chalice.test.Client with the faithful API Gateway emulation of devtools.gateway."""

from __future__ import annotations

from chalice.app import Chalice
from chalice.test import Client, TestHTTPClient

from devtools.gateway import FaithfulGateway


class GatewayClient(Client):
    @property
    def http(self) -> TestHTTPClient:
        if self._http_client is None:
            client = TestHTTPClient(self._app, self._chalice_config)
            client._local_gateway = FaithfulGateway(self._app, self._chalice_config)
            self._http_client = client
        return self._http_client


def make_client(app: Chalice) -> GatewayClient:
    return GatewayClient(app, stage_name="local")
