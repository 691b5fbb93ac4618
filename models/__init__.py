"""Every table of schoolgraph. Importing this package registers them all on ``models.base.metadata``."""

from models import agreements, content, curriculum, learning, licensing, partners, roster  # noqa: F401 - registers their tables
from models.accounts import Account, AddressThrottle, AuthSession, ParentCode, RefreshToken
from models.audit import AuditEntry, AuditHead, AuditTreeHead
from models.base import metadata
from models.groups import Group, GroupPupil, GroupTeacher
from models.people import Contact, Pupil, PupilContact, Staff
from models.privacy import OwnConsentDue, PupilConsent
from models.schools import PrincipalEpochRaise, School, SchoolTrustMembership, Trust

__all__ = [
    "Account",
    "AddressThrottle",
    "AuditEntry",
    "AuditHead",
    "AuditTreeHead",
    "AuthSession",
    "Contact",
    "Group",
    "GroupPupil",
    "GroupTeacher",
    "OwnConsentDue",
    "ParentCode",
    "PrincipalEpochRaise",
    "Pupil",
    "PupilConsent",
    "PupilContact",
    "RefreshToken",
    "School",
    "SchoolTrustMembership",
    "Staff",
    "Trust",
    "metadata",
]
