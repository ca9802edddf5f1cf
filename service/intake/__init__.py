"""Intake: bytes + filename → :class:`Document`. Knows nothing of storage or HTTP."""

from service.intake.document import Block, Document, Paragraph, Section, SourceInfo
from service.intake.errors import IntakeError
from service.intake.pipeline import parse_bytes, parse_file

__all__ = [
    "Block",
    "Document",
    "IntakeError",
    "Paragraph",
    "Section",
    "SourceInfo",
    "parse_bytes",
    "parse_file",
]
