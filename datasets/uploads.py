"""Receiving request bodies straight to disk.

`StagingMultiPartParser` is DRF's multipart parser with one upload handler of our
own: the `file` field goes to a `StagedFile` beside its destination, hashed and counted
while it streams, and the parse stops the moment the size limit is passed. Nothing of
the file is ever held whole in memory (Django's parser hands us 1 MiB chunks).

The parser is DRF's request plumbing and refuses in DRF's terms (`ParseError`,
`llmplatform.api.PayloadTooLarge`), as DRF's own parsers do; once the request is
read, what is wrong with it is a domain refusal (`llmplatform.errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles

from datasets.storage import FileTooLarge, StagedFile
from llmplatform.api import PayloadTooLarge
from llmplatform.errors import InvalidInput

UPLOAD_FIELD = "file"
CHUNK_BYTES = 1024 * 1024
# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class ReceivedFile:
    """What `request.FILES["file"]` holds: a staged file and the client's name for it.

    Django closes every uploaded file when the request ends; closing one that was
    never published removes it, so no path out of a view can leave it behind.
    """

    def __init__(self, client_name: str, content_type: str | None, staged: StagedFile) -> None:
        self.name = client_name
        self.content_type = content_type
        self.staged = staged

    @property
    def size(self) -> int:
        return self.staged.size

    def close(self) -> None:
        self.staged.discard()


class StagingUploadHandler(FileUploadHandler):
    chunk_size = CHUNK_BYTES

    def __init__(self, *, directory: Path, limit: int) -> None:
        super().__init__(request=None)
        self.directory = directory
        self.limit = limit
        self.staged: StagedFile | None = None
        self.too_large = False
        self.interrupted = False

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != UPLOAD_FIELD or self.staged is not None:
            raise SkipFile()  # other fields and a second `file` are read past, never stored
        self.staged = StagedFile(self.directory, limit=self.limit)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        assert self.staged is not None
        try:
            self.staged.write(raw_data)
        except FileTooLarge:
            self.too_large = True
            self.discard()
            # connection_reset: do not read the rest of the body; the 413 goes out now.
            raise StopUpload(connection_reset=True) from None

    # Django keeps what this returns in request.FILES; a ReceivedFile is meant to be no UploadedFile.
    def file_complete(self, file_size: int) -> ReceivedFile | None:  # type: ignore[override]
        if self.staged is None:
            return None
        assert self.file_name is not None  # set by new_file, with the staged file
        self.staged.close()
        return ReceivedFile(self.file_name, self.content_type, self.staged)

    def upload_interrupted(self) -> None:
        self.interrupted = True
        self.discard()

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.discard()


class StagingMultiPartParser(BaseParser):
    """multipart/form-data whose `file` field streams into a StagedFile.

    The view says where and how much: `view.staging_directory()` and `view.upload_limit()`.
    """

    media_type = "multipart/form-data"

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> DataAndFiles:
        context = parser_context or {}
        request, view = context["request"], context["view"]
        limit = view.upload_limit()
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + MULTIPART_OVERHEAD_BYTES:
            raise PayloadTooLarge(f"The file is larger than the {limit} bytes allowed here; nothing was kept.")
        handler = StagingUploadHandler(directory=view.staging_directory(), limit=limit)
        meta = {**request.META, "CONTENT_TYPE": media_type}
        try:
            data, files = DjangoMultiPartParser(meta, stream, [handler], context.get("encoding", "utf-8")).parse()
        except MultiPartParserError as exc:
            handler.discard()
            raise ParseError(f"Multipart form parse error: {exc}") from exc
        except BaseException:
            handler.discard()
            raise
        if handler.too_large:
            raise PayloadTooLarge(f"The file is larger than the {limit} bytes allowed here; nothing was kept.")
        if handler.interrupted:
            raise ParseError("The upload was interrupted before the whole file arrived; nothing was kept.")
        return DataAndFiles(data, files)


def received_file(request: Any) -> ReceivedFile:
    """The request's `file` part; InvalidInput naming it as `missing` when there is none."""
    received = request.FILES.get(UPLOAD_FIELD)
    if not isinstance(received, ReceivedFile):
        raise InvalidInput(_("Send the file as the multipart field `file`, with a file name."), missing=[UPLOAD_FIELD])
    return received
