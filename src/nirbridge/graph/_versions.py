"""NIR file versions and the reset convention each implies."""

from __future__ import annotations

import re

from .._errors import ResetModeError
from ._metadata import RESET_MODES

#: The last NIR release whose spiking neurons reset by subtracting the threshold. NIR 1.0.6 added
#: ``v_reset`` and made reset-to-``v_reset`` the meaning of LIF, IF and CubaLIF.
LAST_SUBTRACT_VERSION = (1, 0, 5)


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.0.6"`` -> ``(1, 0, 6)``; pre-release suffixes ("1.0.6.dev3", "1.0.6rc1") are ignored."""
    match = re.match(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
    if not match:
        raise ResetModeError(f"cannot parse NIR version {text!r}: expected MAJOR.MINOR.PATCH")
    return tuple(int(g) if g is not None else 0 for g in match.groups())  # type: ignore[return-value]


def reset_mode_for_version(version: str) -> str:
    """The reset convention of a NIR version: ``"subtract"`` up to 1.0.5, ``"zero"`` after."""
    return "subtract" if parse_version(version) <= LAST_SUBTRACT_VERSION else "zero"


def resolve_reset(
    override: str | None, metadata_reset: str | None, nir_version: str | None
) -> tuple[str, str]:
    """Decide the reset mode: explicit option, then our metadata, then the file's NIR version.

    Returns:
        The mode ("subtract" or "zero", where "zero" means reset to ``v_reset``) and, in words,
        where it came from.
    """
    if override not in (None, "auto"):
        if override not in RESET_MODES:
            raise ResetModeError(
                f"reset mode: expected 'auto' or one of {RESET_MODES}, got {override!r}"
            )
        return override, "given explicitly"
    if metadata_reset is not None:
        return metadata_reset, "nirbridge metadata"
    if nir_version is None:
        raise ResetModeError(
            "reset mode: the graph carries no NIR version and no 'nirbridge.reset' metadata; "
            "pass reset='subtract' or reset='zero' (CLI: --reset)"
        )
    try:
        mode = reset_mode_for_version(nir_version)
    except ResetModeError as exc:
        raise ResetModeError(
            f"reset mode: {exc}; pass reset='subtract' or reset='zero' (CLI: --reset)"
        ) from exc
    return mode, f"NIR file version {nir_version}"
