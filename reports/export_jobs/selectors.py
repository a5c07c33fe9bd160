"""Reading export jobs, scoped to the organization and to who may see them: the member who
asked, and the organization's admins."""

import uuid

from django.db.models import QuerySet
from django.http import Http404

from matchpal.models import Membership, Organization
from reports.export_jobs.models import ExportJob
from reports.export_jobs.registry import SOURCES, ExportSource


def job_list(*, organization: Organization, membership: Membership) -> QuerySet[ExportJob]:
    """ "My exports": the member's own jobs, newest first."""
    return ExportJob.objects.filter(organization=organization, membership=membership).order_by(
        "-created_at", "-id"
    )


def job_get(
    *, organization: Organization, membership: Membership, public_id: uuid.UUID
) -> ExportJob:
    """The job, when the member asked for it or is an admin of its organization; else 404."""
    jobs = ExportJob.objects.filter(organization=organization, public_id=public_id)
    if not membership.is_admin:
        jobs = jobs.filter(membership=membership)
    job = jobs.first()
    if job is None:
        raise Http404("No such export.")
    job.organization = organization
    return job


def sources_for(membership: Membership) -> list[ExportSource]:
    """The sources the member's role may export, by label."""
    return sorted(
        (source for source in SOURCES.values() if source.allows(membership)),
        key=lambda source: source.label,
    )
