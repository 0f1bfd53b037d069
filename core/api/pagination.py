"""Every list of the API is paginated the same way: ``?page=`` and ``?page_size=`` (at most
``max_page_size``), answering ``{"count", "next", "previous", "results"}``."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from core.errors import ValidationFailed


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        """``page_size`` as asked, capped at ``max_page_size``; junk is a 400, not ignored."""
        asked = request.query_params.get(self.page_size_query_param)
        if asked is None or asked == "":
            return self.page_size or self.max_page_size
        if not asked.isascii() or not asked.isdigit() or int(asked) < 1:
            raise ValidationFailed(f"Give page_size as a whole number from 1 to "
                                   f"{self.max_page_size}.", field="page_size")
        return min(int(asked), self.max_page_size)
