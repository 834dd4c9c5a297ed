"""Text patterns and cleaning shared by every domain."""

from __future__ import annotations

import re

EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
