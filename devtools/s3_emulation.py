"""Make moto's S3 answer as S3 does where this service can tell the difference.

Development only (`make run`, the tests, the benchmarks). Each patch keeps moto's answers and
changes what moto gets wrong:

- Ranged reads at a cost that depends on the range. moto's GetObject copies the whole object
  out of its buffer and then slices the requested range from the copy, so reading a 10-second
  window of a day-long recording cost ~50 ms per request on a 50 MB object and grew with the
  recording; S3's cost of a ranged GET does not depend on the object's size. Here a plain
  `bytes=first-last` (or `bytes=first-`) range reads just those bytes from the buffer; anything
  else (suffix ranges, several ranges, parts, header overrides, conditional requests) is left
  to moto.
- DeleteObjectTagging of a missing key: S3 answers 404 NoSuchKey; moto failed with a 500 (an
  AttributeError), which a client retries and then reports as an outage.
"""

from __future__ import annotations

import re
from typing import Any

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_CONDITIONS = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.s3.responses import ALLOWED_HEADER_OVERRIDES, S3Response

    whole_object = S3Response.get_object

    def get_object(self: Any) -> Any:
        match = _RANGE.fullmatch(self.headers.get("range") or "")
        special = ("partNumber", "versionId", *ALLOWED_HEADER_OVERRIDES)
        plain = not any(name in self.querystring for name in special) and not any(
            self.headers.get(name) for name in _CONDITIONS
        )
        if match is None or not plain:
            return whole_object(self)
        key, _ = self._get_key()
        first, last = int(match.group(1)), min(int(match.group(2) or key.size - 1), key.size - 1)
        if first > last:
            return whole_object(self)  # moto answers what S3 does (416, or the whole object)
        with key.lock:
            key._value_buffer.seek(first)
            content = key._value_buffer.read(last - first + 1)
        headers = {**self._get_cors_headers_other(), **key.response_dict, **key.metadata}
        headers.update(
            {
                "Accept-Ranges": "bytes",
                "content-length": str(len(content)),
                "content-range": f"bytes {first}-{last}/{key.size}",
            }
        )
        return 206, headers, content

    S3Response.get_object = get_object  # type: ignore[method-assign]

    from moto.s3.exceptions import MissingKey
    from moto.s3.models import S3Backend

    untag = S3Backend.delete_object_tagging

    def delete_object_tagging(
        self: Any, bucket_name: str, key_name: str, version_id: str | None = None
    ) -> None:
        if self.get_object(bucket_name, key_name, version_id=version_id) is None:
            raise MissingKey(key=key_name)
        untag(self, bucket_name, key_name, version_id=version_id)

    S3Backend.delete_object_tagging = delete_object_tagging  # type: ignore[method-assign]
    _installed = True
