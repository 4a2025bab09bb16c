"""The ECG id rule, kept free of NumPy so routes can check ids without loading it."""

from __future__ import annotations

import re

ECG_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def is_valid_ecg_id(value: str) -> bool:
    return ECG_ID_PATTERN.fullmatch(value) is not None
