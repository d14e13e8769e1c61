"""OPML in and out. Parsing goes through defusedxml: no DTD entities, no external loads."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - only used to build output
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ingest.errors import OPMLError


@dataclass(frozen=True, slots=True)
class OPMLOutline:
    """One subscription from an OPML file; ``folder`` is the enclosing outline path."""

    url: str
    title: str | None = None
    html_url: str | None = None
    folder: str | None = None


def parse_opml(content: bytes) -> list[OPMLOutline]:
    """Every outline with an ``xmlUrl``, in document order, folders as ``a/b``."""
    try:
        root = fromstring(content, forbid_dtd=True)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise OPMLError(f"the OPML file is not well-formed XML: {exc}", line=line) from exc
    except DefusedXmlException as exc:
        raise OPMLError(f"the OPML file declares a DTD or entities, refused: {exc}") from exc
    if root.tag.lower() != "opml":
        raise OPMLError(f"the root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise OPMLError("the OPML file has no <body>")
    found: list[OPMLOutline] = []

    def walk(element: ET.Element, path: tuple[str, ...]) -> None:
        for outline in element.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            title = outline.get("title") or outline.get("text")
            if url:
                found.append(
                    OPMLOutline(
                        url=url,
                        title=title,
                        html_url=outline.get("htmlUrl"),
                        folder="/".join(path) or None,
                    )
                )
            else:
                walk(outline, (*path, title) if title else path)

    walk(body, ())
    return found


def render_opml(outlines: list[OPMLOutline], *, title: str = "Kith subscriptions") -> bytes:
    """An OPML 2.0 document; outlines with a folder are nested under it."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for o in outlines:
        parent = body
        if o.folder:
            parent = folders.get(o.folder) or ET.SubElement(
                body, "outline", text=o.folder, title=o.folder
            )
            folders[o.folder] = parent
        attrs = {"type": "rss", "text": o.title or o.url, "xmlUrl": o.url}
        if o.title:
            attrs["title"] = o.title
        if o.html_url:
            attrs["htmlUrl"] = o.html_url
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out
