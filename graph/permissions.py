"""Declaring who may use a field, query or mutation: every one states a policy, or says why it is public.

``guarded(policy)`` is a strawberry field whose permission class asks the :mod:`auth.policies` policy
about the caller and the object the field belongs to (for a root field: the school). Denials are GraphQL
errors with ``extensions.code`` UNAUTHENTICATED (no caller) or FORBIDDEN, and the field is null.
``public(reason)`` marks a field that needs no check (an opaque id, a type name) and says why.

The schema walk in tests/test_schema.py fails on any field of a personal-data type, and on any root
field, that has neither: default deny.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, cast

import strawberry
from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from auth.policies import Policy

POLICY_KEY = "schoolgraph.policy"
PUBLIC_KEY = "schoolgraph.public"
PASSWORD_CHANGE_EXEMPT_KEY = "schoolgraph.password_change_exempt"  # noqa: S105 - a metadata key

PERSONAL_DATA_TYPES: set[type] = set()


def personal_data(cls: type) -> type:
    """Class decorator: this type carries personal data, so each of its fields must declare a policy."""
    PERSONAL_DATA_TYPES.add(cls)
    return cls


def refusal(
    policy: Policy, principal: Any, source: Any, context: Any, *, exempt: bool = False
) -> tuple[str, dict[str, Any]] | None:
    """Why the caller may not use a field (message and error extensions), or None when the policy admits
    them. The subject is the row the field's object wraps; for a root field, the tenant. ``exempt``: the
    field is usable before the caller's account is in order (a password to change, LL 7.1.6; their own
    consent to give at 13, LL 6.3.3; documents to accept, LL 21, LL 3.1). A policy marked
    ``lrs_agreement`` also tells a caller it admits in every other way that the LRS user agreement is what
    they lack (LRS 1.1)."""
    if principal is None:
        return "Sign in to see this.", {"code": "UNAUTHENTICATED"}
    pending = _pending(principal)
    if pending is not None and not exempt:
        return PENDING_MESSAGES[pending], {"code": "FORBIDDEN", "reason": pending}
    subject = _subject(source, context)
    if policy(principal, subject):
        return None
    if policy.lrs_agreement and getattr(principal, "lrs_pending", False) and policy.check(principal, subject):
        return PENDING_MESSAGES["LRS_AGREEMENT_NOT_ACCEPTED"], {
            "code": "FORBIDDEN",
            "reason": "LRS_AGREEMENT_NOT_ACCEPTED",
        }
    return f"Not allowed: only {policy.who}.", {"code": "FORBIDDEN"}


def admits_all(policy: Policy, principal: Any, subjects: Iterable[Any], *, exempt: bool = False) -> bool:
    """Whether :func:`refusal` is None for every one of ``subjects`` (the rows of one kind a field is
    asked about: what its objects wrap): the caller and their account's state are asked once, the policy
    about each row (:meth:`Policy.admits_each`)."""
    if principal is None or (_pending(principal) is not None and not exempt):
        return False
    return policy.admits_each(principal, subjects)


def _subject(source: Any, context: Any) -> Any:
    """What a policy is asked about: the row the field's object wraps; for a root field, the tenant."""
    subject = getattr(source, "row", None)
    return context.tenant if subject is None else subject


PENDING_MESSAGES = {
    "PASSWORD_CHANGE_REQUIRED": "Change your password before you continue.",
    "CONSENT_REQUIRED": "Give your own consent (giveOwnConsent) before you continue.",
    "TERMS_NOT_ACCEPTED": "Accept the current licence terms for the school (acceptDocuments) before you continue.",
    "POLICIES_NOT_ACCEPTED": "Read and accept the current policies (notices, acceptDocuments) before you continue.",
    "LRS_AGREEMENT_NOT_ACCEPTED": "Accept the Learning Records Service user agreement to see ULNs and learner records.",
}


def _pending(principal: Any) -> str | None:
    """The school principal's account state that refuses every field but the exempt ones; the platform's and
    trusts' principals only ever have a password to change, other callers (a partner) nothing of the kind."""
    pending = getattr(principal, "pending", None)
    if pending is None and getattr(principal, "must_change_password", False):
        return "PASSWORD_CHANGE_REQUIRED"
    return pending


class _PolicyPermission(BasePermission):
    policy: Policy
    exempt_from_password_change = False

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        refused = refusal(
            self.policy, context.principal, source, context, exempt=self.exempt_from_password_change
        )
        if refused is None:
            return True
        self.message, self.error_extensions = refused
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
    metadata: dict[str, Any] | None = None,
) -> Any:
    """A field readable only by callers the policy admits (``metadata``: more of the field's metadata,
    e.g. :func:`graph.limits.list_size`)."""
    kwargs: dict[str, Any] = {
        "permission_classes": [permission_for(policy, exempt=password_change_exempt)],
        "metadata": {
            **(metadata or {}),
            POLICY_KEY: policy,
            PASSWORD_CHANGE_EXEMPT_KEY: password_change_exempt,
        },
        "description": description,
        "name": name,
    }
    if resolver is not None:
        return strawberry.field(resolver=resolver, **kwargs)
    return strawberry.field(**kwargs)


def row_field(policy: Policy, attribute: str, *, description: str | None = None) -> Any:
    """A guarded field whose value is the wrapped row's ``attribute``, read when the field is asked for:
    the type's constructor copies nothing (enum fields get the stored name, which the enum serialises)."""

    def read(root: Any) -> Any:
        return getattr(root.row, attribute)

    return guarded(policy, resolver=read, description=description)


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
    reason: str,
    *,
    resolver: Any = None,
    description: str | None = None,
    mutation: bool = False,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """A field anyone may use, with the reason why that is safe (``metadata``: more of the field's, e.g.
    :func:`graph.limits.list_size`)."""
    make = strawberry.mutation if mutation else strawberry.field
    kwargs: dict[str, Any] = {
        "metadata": {**(metadata or {}), PUBLIC_KEY: reason},
        "description": description,
    }
    if resolver is not None:
        return make(resolver=resolver, **kwargs)
    return make(**kwargs)


# --- guarded fields compiled to one resolver -------------------------------------------------------------


def compile_guards(schema: strawberry.Schema) -> int:
    """Give every guarded field without arguments one plain resolver: check the policy, then read the value.

    Strawberry runs a field with a permission class through its extension chain (argument conversion,
    an ``Info`` per field, the permission extension, the resolver): tens of microseconds, paid by each
    field of each object of a list. A guarded field with no arguments needs none of that but the check,
    so its graphql-core resolver is replaced by :func:`_compiled`, which asks :func:`refusal` exactly what
    the permission class asks and raises the same error. Fields with arguments keep strawberry's chain
    (their arguments need converting). The permission class stays declared on every field, so the
    schema, the permission matrix and a field this function skips are unchanged. Returns how many
    fields were compiled; tests/test_schema.py checks that every guarded field still refuses.
    """
    compiled = 0
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for graphql_field in named.fields.values():
            definition = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(definition, StrawberryField) or graphql_field.args:
                continue
            policy = definition.metadata.get(POLICY_KEY)
            if policy is None or len(definition.extensions) != 1:
                continue
            extension = definition.extensions[0]
            if (
                not isinstance(extension, PermissionExtension)
                or [type(p).policy for p in extension.permissions if isinstance(p, _PolicyPermission)]
                != [policy]
                or len(extension.permissions) != 1
            ):
                continue  # only what guarded() declared: its one permission, asking this very policy
            graphql_field.resolve = _compiled(
                definition, policy, exempt=bool(definition.metadata.get(PASSWORD_CHANGE_EXEMPT_KEY))
            )
            compiled += 1
    return compiled


def _compiled(field: StrawberryField, policy: Policy, *, exempt: bool) -> Callable[..., Any]:
    """The field's resolver: the policy's check, then the value. A resolver that needs no ``Info`` and is
    not async also gets a ``fetch(source, context)`` twin, which :mod:`graph.execution` calls directly."""

    def checked(source: Any, context: Any) -> None:
        refused = refusal(policy, context.principal, source, context, exempt=exempt)
        if refused is not None:
            message, extensions = refused
            raise GraphQLError(message, extensions=extensions)

    value = _value_of(field)
    if value is None:  # the resolver wants Info (or is async): strawberry's Info is made for it
        assert field.base_resolver is not None
        call, info_name = field.base_resolver.wrapped_func, field.base_resolver.info_parameter
        source_arg = _source_argument(field)

        def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
            checked(source, info.context)
            kwargs: dict[str, Any] = (
                {} if info_name is None else {info_name.name: Info(_raw_info=info, _field=field)}
            )
            return source_arg(call, source, kwargs)

        return resolve
    found = value

    def fetch(source: Any, context: Any) -> Any:
        checked(source, context)
        return found(source)

    def resolve_value(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        return fetch(source, info.context)

    resolve_value.fetch = fetch  # type: ignore[attr-defined]
    return resolve_value


def _source_argument(field: StrawberryField) -> Callable[[Callable[..., Any], Any, dict[str, Any]], Any]:
    """How the resolver takes its object: as ``self``, as ``root``/``parent`` by name, or not at all."""
    resolver = field.base_resolver
    assert resolver is not None
    if resolver.self_parameter is not None:
        return lambda call, source, kwargs: call(source, **kwargs)
    named = resolver.root_parameter or resolver.parent_parameter
    if named is not None:
        name = named.name
        return lambda call, source, kwargs: call(**{name: source}, **kwargs)
    return lambda call, source, kwargs: call(**kwargs)


def _value_of(field: StrawberryField) -> Callable[[Any], Any] | None:
    """``value(source)``: the attribute, or the resolver when it needs no Info and is not async; else None."""
    resolver = field.base_resolver
    if resolver is None:
        name = field.python_name
        return lambda source: getattr(source, name)
    if resolver.info_parameter is not None or resolver.is_async:
        return None
    call = cast("Callable[..., Any]", resolver.wrapped_func)
    if resolver.self_parameter is not None:
        return call
    named = resolver.root_parameter or resolver.parent_parameter
    if named is None:
        return lambda source: call()
    name = named.name
    return lambda source: call(**{name: source})
