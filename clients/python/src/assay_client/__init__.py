"""Assay's Python client: :class:`AssayClient` over the REST API, and the ``assay`` CLI."""

from assay_client.client import (
    APPROVED,
    AssayClient,
    AssayError,
    Download,
    NotApproved,
    WaitTimeout,
    file_sha256,
    write_download,
)

__all__ = ["APPROVED", "AssayClient", "AssayError", "Download", "NotApproved", "WaitTimeout",
           "file_sha256", "write_download"]
