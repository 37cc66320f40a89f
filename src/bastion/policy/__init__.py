"""The one policy decision point: path confinement and (later) grants, rules and approvals."""

from .paths import canonical, display_path, is_within
from .policy import Policy, PolicyDenied

__all__ = ["Policy", "PolicyDenied", "canonical", "display_path", "is_within"]
