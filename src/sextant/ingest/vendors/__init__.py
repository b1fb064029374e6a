"""Drop-in endpoints for the SDKs teams already use. Each vendor is one module that translates its wire
format into native events and answers in the vendor's own format and status codes, so that the SDK's
retry and drop logic behaves as it would against the vendor. The native pipeline does the rest."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sextant.errors import SextantError
from sextant.ingest.pipeline import IntakeResult


@dataclass
class Reply:
    status: int
    body: object
    headers: Mapping[str, str] | None = None
    plain_text: bool = False


@dataclass
class Translated:
    """Native event documents from one vendor request."""

    documents: list[str]
    api_key: str | None = None
    # All or nothing: the vendor stores none of a request's events when one is invalid, and its SDK
    # resends the valid ones.
    atomic: bool = False
    # An answer decided before any event is stored (e.g. a missing required field).
    early_reply: Reply | None = None


class Vendor(ABC):
    name: ClassVar[str]
    paths: ClassVar[tuple[str, ...]]
    # The vendor's own request size limit, if it is stricter than the project's.
    max_request_bytes: ClassVar[int | None] = None

    @abstractmethod
    def translate(self, body: bytes, headers: Mapping[str, str], path: str) -> Translated:
        """Read a request body; raise `IngestError` (or `AuthError`) when it cannot be read at all."""

    @abstractmethod
    def accepted(self, result: IntakeResult, translated: Translated, path: str) -> Reply:
        """The answer once events are durable (possibly with some rejected)."""

    @abstractmethod
    def refused(self, error: SextantError, path: str) -> Reply:
        """The answer to a request refused as a whole (bad key, too large, rate limited, overloaded)."""


def as_object(value: object) -> dict[str, Any]:
    """A JSON object from a payload, or an empty one when the value is something else."""
    return value if isinstance(value, dict) else {}


def registry() -> list[Vendor]:
    from sextant.ingest.vendors.amplitude import Amplitude
    from sextant.ingest.vendors.eventlogger import EventLogger
    from sextant.ingest.vendors.posthog import PostHog
    from sextant.ingest.vendors.segment import Segment

    return [Amplitude(), Segment(), PostHog(), EventLogger()]
