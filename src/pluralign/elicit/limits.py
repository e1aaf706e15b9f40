"""The limits a deployer of ``pluralign serve`` can set, with their defaults (docs/elicit.md lists them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServerLimits(BaseModel):
    """Per-process bounds on what clients can make the server do; every field is a ``serve`` option."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float = Field(2.0, ge=0, allow_inf_nan=False,
                        description="writes per second per browser id, on average (0: no limit)")
    burst: int = Field(20, ge=1, description="burst size of the per-browser limit")
    address_rate: float = Field(10.0, ge=0, allow_inf_nan=False,
                                description="writes per second per client address, all its browser ids together (0: no limit)")
    address_burst: int = Field(100, ge=1, description="burst size of the per-address limit")
    max_body: int = Field(64 * 1024, ge=1024, description="largest request body in bytes (larger: 413 before reading)")
    tracked_keys: int = Field(100_000, ge=100, description="rate-limit buckets kept in memory, per limit")
    queue_page: int = Field(50, ge=1, le=1000, description="statements per page of the moderation queue")
    origins: tuple[str, ...] = Field((), description="more origins whose POSTs are accepted, e.g. "
                                     "https://vote.example.org when a reverse proxy rewrites the Host header")
    db_threads: int = Field(8, ge=1, le=64, description="threads for database writes (reads get twice as many)")
