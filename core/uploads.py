"""Upload size caps enforced while the request body streams in.

Django writes large uploads to a temporary file before any view runs; without a cap a client could
fill the disk. This handler stops storing a file as soon as it passes the largest configured cap
and notes why on the request, so the view answers with the cap instead of "file missing".
Per-kind caps (artifacts, datasets) are then checked by the services with their own messages.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict

from core.errors import ValidationFailed


def upload_cap_bytes() -> int:
    return max(settings.MAX_ARTIFACT_BYTES, settings.MAX_DATASET_BYTES)


class CappedUploadHandler(FileUploadHandler):
    """Skips any single file larger than the cap; the rest of the request is read normally."""

    def new_file(self, field_name: str, file_name: str, content_type: str,
                 content_length: int | None, charset: str | None = None,
                 content_type_extra: dict[str, bytes] | None = None) -> None:
        super().new_file(field_name, file_name, content_type, content_length, charset,
                         content_type_extra)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received = start + len(raw_data)
        if self.received > upload_cap_bytes():
            refusals = getattr(self.request, "upload_refusals", {})
            refusals[self.field_name] = (
                f"The file {self.file_name!r} is larger than the "
                f"{filesizeformat(upload_cap_bytes())} limit for uploads; the administrator sets "
                "it with ASSAY_MAX_ARTIFACT_MB and ASSAY_MAX_DATASET_MB."
            )
            # A note on the request for require_file; Django hands handlers the request.
            self.request.upload_refusals = refusals  # type: ignore[union-attr]
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def require_file(request: HttpRequest, files: MultiValueDict[str, UploadedFile], field: str,
                 what: str) -> UploadedFile:
    """The uploaded file in ``field``, or a ValidationFailed naming why it is missing."""
    refused = getattr(request, "upload_refusals", {}).get(field)
    if refused:
        raise ValidationFailed(refused, field=field)
    upload = files.get(field)
    if upload is None:
        raise ValidationFailed(f"Attach the {what} as a multipart file field named {field!r}.",
                               field=field)
    return upload
