"""How much of a run the report measures: its three counts, written once (flag, default, help, limits).

`vaekit report`'s flags, `build_report`'s keywords and their checks all come from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaekit.options import check_fields, count, option


@dataclass(frozen=True)
class ReportCounts:
    limit: int = option(2000, "test images used for codes and measures", type=count(2))
    iw_samples: int = option(100, "importance samples K for the -log p(x) estimate", type=count(1))
    fid_samples: int = option(
        2000,
        "prior samples for the Fréchet distance of an MNIST or Fashion-MNIST run (0: not measured)",
        type=count(2, or_zero=True),
    )

    def __post_init__(self) -> None:
        check_fields(self)  # a library call meets the limits the flags have
