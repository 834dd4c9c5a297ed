"""Attachments: a content check by magic bytes, and a small storage interface.

``LocalStore`` keeps files under ``instance/attachments/`` named by their SHA-256 (the same bytes
are kept once); another store (object storage) only needs ``save``, ``open`` and ``delete``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flask import current_app

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5

# (content type, test on the first bytes); the file's own name and declared type are not trusted.
_SIGNATURES: tuple[tuple[str, object], ...] = (
    ("image/png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ("image/gif", lambda head: head[:6] in (b"GIF87a", b"GIF89a")),
    ("image/webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    ("application/pdf", lambda head: head.startswith(b"%PDF-")),
)
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
              "application/pdf": ".pdf"}
ALLOWED_TYPES = "PNG, JPEG, GIF or WebP images, or PDF documents"


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, among the allowed ones; ``None`` for anything else."""
    head = data[:16]
    for content_type, test in _SIGNATURES:
        if test(head):  # type: ignore[operator]
            return content_type
    return None


def safe_filename(name: str, content_type: str) -> str:
    """A display name without paths or odd characters, ending in the extension of what it really is."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    # ASCII only: the name goes into a Content-Disposition header.
    stem = re.sub(r"[^\w.\- ]+", "_", os.path.splitext(base)[0], flags=re.ASCII).strip(" ._")[:100] or "attachment"
    return stem + EXTENSIONS[content_type]


@dataclass(frozen=True)
class StoredFile:
    key: str
    sha256: str
    size: int


class AttachmentStore(Protocol):
    def save(self, data: bytes) -> StoredFile: ...
    def open(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{64}", key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def save(self, data: bytes) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        key = f"{digest[:2]}/{digest}"
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader never sees half a file.
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
                handle.write(data)
            os.replace(handle.name, path)
        return StoredFile(key, digest, len(data))

    def open(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def attachment_store() -> AttachmentStore:
    store = current_app.extensions.get("attachment_store")
    if store is None:
        store = LocalStore(Path(current_app.instance_path) / "attachments")
        current_app.extensions["attachment_store"] = store
    return store
