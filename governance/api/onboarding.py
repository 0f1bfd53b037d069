"""Bulk onboarding over the API: import an inventory CSV (a dry run unless told otherwise) and
export the inventory in the same columns."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import permissions
from core.api.base import StrictSerializer, valid_input
from core.api.parsers import MultiPartParser
from core.audit import refuse
from core.errors import ValidationFailed
from core.http import AuthenticatedRequest
from core.uploads import require_file
from governance import services
from registry.onboarding import RowError


class InventoryImportInputSerializer(StrictSerializer):
    file = serializers.FileField(help_text="The inventory CSV (UTF-8; columns as documented in "
                                           "docs/inventory-import.md).")
    dry_run = serializers.BooleanField(
        required=False, default=True,
        help_text="true (the default): check every row and write nothing; false: import, all "
                  "rows or none.")


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The line in the file (1: the header; 0: the "
                                              "file as a whole).")
    column = serializers.CharField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField()
    valid = serializers.BooleanField()
    # The answer's shape for the schema only (the view answers ImportReport.as_dict()), so the
    # field may take the name of Serializer.errors, which validating input would use.
    errors = RowErrorSerializer(many=True)  # type: ignore[assignment]
    created = serializers.ListField(child=serializers.CharField(),
                                    help_text="Slugs of the models created.")


class InventoryImportView(APIView):
    """Import an existing inventory (administrators). A dry run answers 200 with every problem
    by line and column; an import with problems answers 400 with them (``fields``:
    '<line>.<column>') and writes nothing; a clean import creates every model in one
    transaction and answers 201."""

    parser_classes = [MultiPartParser]
    request: AuthenticatedRequest

    @extend_schema(request={"multipart/form-data": InventoryImportInputSerializer},
                   responses={200: ImportReportSerializer, 201: ImportReportSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        if not permissions.can_import_inventory(request.user):  # before the body is read
            refuse(request.user, "Only administrators import an inventory.",
                   attempted="inventory.import", code=permissions.WRONG_ROLE)
        upload = require_file(request, request.FILES, "file", "inventory CSV")
        data = valid_input(InventoryImportInputSerializer, request)
        report = services.inventory_import(actor=request.user, data=upload.read(),
                                           dry_run=data["dry_run"], filename=upload.name or "")
        if not report.dry_run and not report.ok:
            raise ValidationFailed(
                f"Nothing was imported: {len(report.errors)} problem(s). Fix them in the file "
                "and send it again (each field is '<line>.<column>', line 1 the header, 0 the "
                "file as a whole).", fields=problem_fields(report.errors))
        return Response(report.as_dict(), status=status.HTTP_200_OK if report.dry_run
                        else status.HTTP_201_CREATED)


def problem_fields(errors: list[RowError]) -> dict[str, list[str]]:
    """The report's problems in the error shape's ``fields``: '<line>.<column>' → messages."""
    fields: dict[str, list[str]] = {}
    for e in errors:
        fields.setdefault(f"{e.line}.{e.column or 'file'}", []).append(e.message)
    return fields


class InventoryExportView(APIView):
    """The inventory you may see, as CSV in the import's columns."""

    request: AuthenticatedRequest

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: AuthenticatedRequest) -> HttpResponse:
        return csv_response(services.inventory_export(actor=request.user))


def csv_response(text: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="inventory.csv"'
    return response
