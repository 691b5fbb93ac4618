"""Declaring who may use a field, query or mutation: every one states a policy, or says why it is public.

``guarded(policy)`` is a strawberry field whose permission class asks the :mod:`auth.policies` policy
about the caller and the object the field belongs to (for a root field: the school). Denials are GraphQL
errors with ``extensions.code`` UNAUTHENTICATED (no caller) or FORBIDDEN, and the field is null.
``public(reason)`` marks a field that needs no check (an opaque id, a type name) and says why.

The schema walk in tests/test_schema.py fails on any field of a personal-data type, and on any root
field, that has neither: default deny.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import strawberry
from strawberry.permission import BasePermission
from strawberry.types import Info

from auth.policies import Policy

POLICY_KEY = "schoolgraph.policy"
PUBLIC_KEY = "schoolgraph.public"
PASSWORD_CHANGE_EXEMPT_KEY = "schoolgraph.password_change_exempt"  # noqa: S105 - a metadata key

PERSONAL_DATA_TYPES: set[type] = set()


def personal_data(cls: type) -> type:
    """Class decorator: this type carries personal data, so each of its fields must declare a policy."""
    PERSONAL_DATA_TYPES.add(cls)
    return cls


class _PolicyPermission(BasePermission):
    policy: Policy
    exempt_from_password_change = False

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None:
            self.message = "Sign in to see this."
            self.error_extensions = {"code": "UNAUTHENTICATED"}
            return False
        if principal.must_change_password and not self.exempt_from_password_change:
            self.message = "Change your password before you continue."
            self.error_extensions = {"code": "FORBIDDEN", "reason": "PASSWORD_CHANGE_REQUIRED"}
            return False
        subject = getattr(source, "row", None)
        if subject is None:
            subject = info.context.tenant
        if self.policy(principal, subject):
            return True
        self.message = f"Not allowed: only {self.policy.who}."
        self.error_extensions = {"code": "FORBIDDEN"}
        return False


@cache
def permission_for(policy: Policy, *, exempt: bool = False) -> type[BasePermission]:
    """The permission class of a policy (one class per policy, made once)."""
    return type(
        f"Allow_{policy.name}{'_exempt' if exempt else ''}",
        (_PolicyPermission,),
        {"policy": policy, "exempt_from_password_change": exempt},
    )


def guarded(
    policy: Policy,
    *,
    resolver: Any = None,
    description: str | None = None,
    name: str | None = None,
    password_change_exempt: bool = False,
) -> Any:
    """A field readable only by callers the policy admits."""
    kwargs: dict[str, Any] = {
        "permission_classes": [permission_for(policy, exempt=password_change_exempt)],
        "metadata": {POLICY_KEY: policy, PASSWORD_CHANGE_EXEMPT_KEY: password_change_exempt},
        "description": description,
        "name": name,
    }
    if resolver is not None:
        return strawberry.field(resolver=resolver, **kwargs)
    return strawberry.field(**kwargs)


def guarded_mutation(
    policy: Policy, *, resolver: Any, description: str | None = None, password_change_exempt: bool = False
) -> Any:
    return strawberry.mutation(
        resolver=resolver,
        permission_classes=[permission_for(policy, exempt=password_change_exempt)],
        metadata={POLICY_KEY: policy, PASSWORD_CHANGE_EXEMPT_KEY: password_change_exempt},
        description=description,
    )


def public(
    reason: str, *, resolver: Any = None, description: str | None = None, mutation: bool = False
) -> Any:
    """A field anyone may use, with the reason why that is safe."""
    make = strawberry.mutation if mutation else strawberry.field
    kwargs: dict[str, Any] = {"metadata": {PUBLIC_KEY: reason}, "description": description}
    if resolver is not None:
        return make(resolver=resolver, **kwargs)
    return make(**kwargs)
