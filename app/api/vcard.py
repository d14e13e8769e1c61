"""Importing people from an address book: ``POST /people/vcard``.

Included before the people router, so ``/people/vcard`` is never read as a person id."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.api.deps import CurrentUser, SessionDep
from app.people.vcard import CardResult, ImportReport, InvalidVCard, PayloadTooLarge, import_vcards
from ingest.vcard import MAX_BYTES

router = APIRouter(prefix="/people", tags=["people"])

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file


class DateOut(BaseModel):
    kind: str
    month: int
    day: int
    year: int | None
    label: str


class CardOut(BaseModel):
    card: int  # 1-based position in the file
    person: dict[str, object]  # {"id": 7, "name": "..."}
    dates: list[DateOut]
    relationships: list[str]  # relationship types the card added
    notes: list[str]  # what was left out of the card, and why


class SkippedOut(BaseModel):
    card: int
    name: str
    code: str
    message: str


class VCardImportOut(BaseModel):
    created: list[CardOut]
    updated: list[CardOut]
    skipped: list[SkippedOut]
    counts: dict[str, int]


def _card_out(r: CardResult) -> CardOut:
    return CardOut(
        card=r.card,
        person={"id": r.person_id, "name": r.name},
        dates=[
            DateOut(kind=d.kind, month=d.month, day=d.day, year=d.year, label=d.label)
            for d in r.dates
        ],  # fmt: skip
        relationships=list(r.relationships),
        notes=list(r.notes),
    )


def report_out(report: ImportReport) -> VCardImportOut:
    return VCardImportOut(
        created=[_card_out(r) for r in report.created],
        updated=[_card_out(r) for r in report.updated],
        skipped=[
            SkippedOut(card=s.card, name=s.name, code=s.code, message=s.message)
            for s in report.skipped
        ],
        counts={
            "created": len(report.created),
            "updated": len(report.updated),
            "skipped": len(report.skipped),
        },
    )


async def _body(request: Request) -> bytes:
    """The request body, read no further than the cap allows."""
    cap = MAX_BYTES + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"the upload is over {MAX_BYTES} bytes")
    content = bytearray()
    async for chunk in request.stream():
        content.extend(chunk)
        if len(content) > cap:
            raise PayloadTooLarge(f"the upload is over {MAX_BYTES} bytes")
    return bytes(content)


async def _vcard_file(request: Request) -> bytes:
    """The vCard file: the ``file`` part of a multipart form, or the body itself."""
    content = await _body(request)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return content

    async def stream() -> AsyncGenerator[bytes, None]:
        yield content

    try:
        form = await MultiPartParser(
            request.headers, stream(), max_files=1, max_fields=10, max_part_size=MAX_BYTES
        ).parse()
    except MultiPartException as exc:
        raise InvalidVCard(f"the form could not be read: {exc.message}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidVCard("send the vCard file as the form field 'file' (or as the body)")
    try:
        return await upload.read()
    finally:
        await form.close()


@router.post(
    "/vcard",
    response_model=VCardImportOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "text/vcard": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def create_people_from_vcard(
    request: Request, session: SessionDep, user: CurrentUser
) -> VCardImportOut:
    """Import an address book (vCard 3.0/4.0); a bad card is skipped and named, not fatal."""
    assert user.id is not None
    content = await _vcard_file(request)
    user_id = user.id

    def run() -> VCardImportOut:  # off the event loop: a big address book takes a while
        report = import_vcards(session, user_id=user_id, content=content, now=datetime.now(UTC))
        return report_out(report)

    return await run_in_threadpool(run)
