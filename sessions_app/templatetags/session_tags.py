from collections.abc import Iterable
from datetime import datetime

from django import template
from django.template.defaultfilters import time as time_filter
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from matchpal.quantities import format_quantity
from matchpal.templatetags.dates import date
from matchpal.templatetags.matchpal_tags import RowLink, escaped, with_id
from sessions_app.checkin import CheckInRow
from sessions_app.models import Session, SessionStatus
from sessions_app.selectors import HomeSession, SessionActions, WeekSession, session_actions

register = template.Library()


@register.simple_tag(takes_context=True)
def actions_for(context: template.Context, session: Session) -> SessionActions:
    """`{% actions_for s as can %}`: the actions the signed-in member may take on `s`, so that
    every page offers the same buttons (sessions_app.selectors.session_actions)."""
    return session_actions(session, context["membership"])


_BUTTON = '<a class="btn btn-sm btn-outline-secondary" href="{}">{}</a>'


@register.simple_tag(takes_context=True)
def session_row(
    context: template.Context,
    session: Session,
    detail: RowLink,
    edit: RowLink,
    cancel: RowLink,
    no_show: RowLink,
) -> SafeString:
    """One `<tr>` of the sessions list, with the whitespace around it that the loop wrote: the
    loop's sixty-odd template nodes a row, written in Python with the same filters and the
    same buttons as `actions_for` (tests/sessions_app/test_list_row_tag.py renders a list both
    ways; docs/performance.md, "The lists within 15x /healthz")."""
    relationship = session.relationship
    can = session_actions(session, context["membership"])
    public_id = session.public_id
    buttons = ""
    if can.edit:
        buttons += _BUTTON.format(with_id(edit, public_id), "Edit") + " "
    if can.cancel:
        buttons += _BUTTON.format(with_id(cancel, public_id), "Cancel") + " "
    if can.no_show:
        buttons += _BUTTON.format(with_id(no_show, public_id), "No-show")
    status = escaped(session.get_status_display())
    if session.dispute_open:
        status += ' <span class="badge text-bg-danger">Disputed</span>'
    when = escaped(date(localtime(session.starts_at), "D M j, Y H:i"))
    return mark_safe(  # noqa: S308 (every value is escaped)
        "\n  <tr>\n"
        f'    <td class="text-nowrap"><a href="{with_id(detail, public_id)}">{when}</a></td>\n'
        f"    <td>{escaped(relationship.student.name)}</td>"
        f"<td>{escaped(relationship.provider.name)}</td>\n"
        f"    <td>{escaped(format_quantity(session.duration_minutes, 'minutes'))}</td>"
        f"<td>{escaped(session.get_kind_display())}</td><td>{status}</td>\n"
        f'    <td class="text-nowrap">{buttons}</td>\n'
        "  </tr>\n  "
    )


_STATUS_BADGE = {"completed": "success", "scheduled": "primary"}


@register.simple_tag(takes_context=True)
def student_session_row(
    context: template.Context,
    session: Session,
    detail: RowLink,
    confirm: RowLink,
    dispute: RowLink,
    cancel_booking: RowLink,
) -> SafeString:
    """One `<li>` of the student home's sessions, with the whitespace around it that the loop
    wrote: its forty-odd template nodes a row, and `actions_for`'s buttons, written in Python
    (tests/sessions_app/test_student_session_row.py renders the home's list both ways;
    docs/performance.md, "The student's pages within 15×")."""
    relationship = session.relationship
    unit = relationship.unit
    public_id = session.public_id
    can = session_actions(session, context["membership"])
    when = escaped(date(localtime(session.starts_at), "M j, H:i"))
    badge = _STATUS_BADGE.get(session.status, "secondary")
    disputed = (
        '<span class="badge text-bg-danger align-self-center" data-testid="session-disputed">'
        "Disputed</span>"
        if session.dispute_open
        else ""
    )
    actions = ""
    if can.confirm or can.dispute or can.cancel_booking:
        confirm_form = dispute_link = cancel_link = ""
        if can.confirm:
            token = context.get("csrf_token")
            hidden = (
                f'<input type="hidden" name="csrfmiddlewaretoken" value="{escaped(token)}">'
                if token and token != "NOTPROVIDED"
                else ""
            )
            confirm_form = (
                f'<form method="post" action="{with_id(confirm, public_id)}">{hidden}'
                '<button class="btn btn-sm btn-outline-success" type="submit">Confirm</button>'
                "</form>"
            )
        if can.dispute:
            dispute_link = (
                f'<a class="small text-danger" href="{with_id(dispute, public_id)}">Dispute</a>'
            )
        if can.cancel_booking:
            cancel_link = f'<a class="small" href="{with_id(cancel_booking, public_id)}">Cancel</a>'
        actions = (
            "\n"
            '          <div class="d-flex gap-2 align-items-center mt-1">\n'
            f"            {confirm_form}\n"
            f"            {dispute_link}\n"
            f"            {cancel_link}\n"
            "          </div>\n"
            "        "
        )
    return mark_safe(  # noqa: S308 (every value is escaped)
        "\n"
        '      <li class="list-group-item" data-testid="student-session">\n'
        '        <div class="d-flex justify-content-between flex-wrap gap-1">\n'
        f'          <span><a href="{with_id(detail, public_id)}">{when}</a> · '
        f"{escaped(relationship.provider.name)} "
        f'<span class="text-secondary small">{escaped(relationship.service_type.name)}</span>'
        "</span>\n"
        f'          <span class="badge text-bg-{badge} align-self-center" '
        f'data-testid="session-status">{escaped(session.get_status_display())}</span>'
        f"{disputed}\n"
        "        </div>\n"
        '        <div class="small text-secondary" data-testid="session-usage">'
        f"{escaped(format_quantity(session.charged_minutes, unit))} used · Used after it: "
        f"{escaped(format_quantity(session.running, unit))}</div>\n"
        "        \n"
        "        \n"
        f"        {actions}\n"
        "      </li>\n"
        "    "
    )


@register.simple_tag(takes_context=True)
def to_log_row(context: template.Context, session: Session, complete: RowLink) -> SafeString:
    """One `<li>` of the provider home's "Past sessions still to log", with the whitespace
    around it that the loop wrote: Log it where `actions_for` offers it, else the window's
    notice (tests/reports/test_provider_home_rows.py renders the lists both ways;
    docs/performance.md, "The provider's home, again")."""
    when = escaped(date(localtime(session.starts_at), "D M j, H:i"))
    name = escaped(session.relationship.student.name)
    if session_actions(session, context["membership"]).complete:
        action = (
            f'<a class="btn btn-sm btn-primary" href="{with_id(complete, session.public_id)}">'
            "Log it</a>"
        )
    else:
        hours = escaped(context["organization"].logging_grace_hours)
        action = (
            f'<span class="small text-secondary">Past the {hours}-hour window: an admin logs '
            "it</span>"
        )
    return mark_safe(  # noqa: S308 (every value escaped)
        '\n  <li class="list-group-item d-flex justify-content-between align-items-center">'
        f"<span>{when} · {name}</span>\n    {action}</li>\n"
    )


def _session_line(session: Session | HomeSession, detail: RowLink) -> str:
    """The start (a link to the session), the student and the topic, as the provider home's
    requests and coming-up lists write them."""
    when = escaped(date(localtime(session.starts_at), "D M j, H:i"))
    topic = (
        f' · <span class="text-secondary">{escaped(session.topic)}</span>' if session.topic else ""
    )
    return (
        f'<a href="{with_id(detail, session.public_id)}">{when}</a> · '
        f"{escaped(session.relationship.student.name)}{topic}"
    )


@register.simple_tag(takes_context=True)
def request_row(
    context: template.Context,
    session: Session | HomeSession,
    detail: RowLink,
    accept: RowLink,
    decline: RowLink,
) -> SafeString:
    """One `<li>` of the provider home's booking requests (Accept's form with its CSRF token,
    Decline), with the whitespace around it that the loop wrote
    (tests/reports/test_provider_home_rows.py)."""
    token = context.get("csrf_token")
    hidden = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escaped(token)}">'
        if token and token != "NOTPROVIDED"
        else ""
    )
    weekly = ' <span class="badge text-bg-light">weekly</span>' if session.series else ""
    public_id = session.public_id
    return mark_safe(  # noqa: S308 (every value escaped)
        '\n  <li class="list-group-item d-flex flex-wrap justify-content-between'
        ' align-items-center gap-2">\n'
        f"    <span>{_session_line(session, detail)}{weekly}</span>\n"
        '    <span class="d-flex gap-2">\n'
        f'      <form method="post" action="{with_id(accept, public_id)}">{hidden}'
        '<button class="btn btn-sm btn-success" type="submit">Accept</button></form>\n'
        f'      <a class="btn btn-sm btn-outline-danger" href="{with_id(decline, public_id)}">'
        "Decline</a>\n"
        "    </span>\n"
        "  </li>\n"
    )


@register.simple_tag
def coming_up_row(session: Session | HomeSession, detail: RowLink) -> SafeString:
    """One `<li>` of the provider home's "Coming up", with the whitespace around it that the
    loop wrote (tests/reports/test_provider_home_rows.py)."""
    return mark_safe(  # noqa: S308 (every value escaped)
        f'\n  <li class="list-group-item">{_session_line(session, detail)}</li>\n'
    )


@register.simple_tag(takes_context=True)
def relationship_session_row(
    context: template.Context, session: Session, detail: RowLink, sees_client_amount: bool
) -> SafeString:
    """One `<tr>` of a relationship page's sessions, with the whitespace around it that the
    loop wrote: about twenty template nodes a row (tests/relationships/
    test_detail_session_row.py renders the list both ways; docs/performance.md, "The
    pairing's page and the homes' rows"). Staff see the provider's earnings, and the client's
    amount where `sees_client_amount`."""
    status = escaped(session.get_status_display())
    if session.dispute_open:
        status += ' <span class="badge text-bg-danger">Disputed</span>'
    money = ""
    if not context["membership"].is_student:
        money = f'<td class="text-end">{escaped(localize(session.provider_earnings))}</td>'  # type: ignore[attr-defined]
        if sees_client_amount:
            money += f'<td class="text-end">{escaped(localize(session.client_amount))}</td>'  # type: ignore[attr-defined]
    when = escaped(date(localtime(session.starts_at), "D M j, Y H:i"))
    return mark_safe(  # noqa: S308 (every value is escaped)
        f'\n  <tr><td><a href="{with_id(detail, session.public_id)}">{when}</a></td>\n'
        f"    <td>{escaped(format_quantity(session.duration_minutes, 'minutes'))}</td>"
        f"<td>{escaped(session.get_kind_display())}</td><td>{status}</td>\n"
        f"    {money}</tr>\n  "
    )


@register.simple_tag(takes_context=True)
def week_session(
    context: template.Context, session: "Session | WeekSession", detail: RowLink
) -> SafeString:
    """One session of the week (sessions_app/week.html), with the whitespace around it that
    the loop wrote: the people the member sees, the status where not scheduled
    (tests/sessions_app/test_week_session_tag.py renders a week both ways)."""
    membership = context["membership"]
    relationship = session.relationship
    if membership.is_student:
        who = escaped(relationship.provider.name)
    elif membership.is_provider:
        who = escaped(relationship.student.name)
    else:
        who = f"{escaped(relationship.student.name)} / {escaped(relationship.provider.name)}"
    status = ""
    if session.status != "scheduled":
        status = f'<span class="small">({escaped(session.get_status_display())})</span>'
    at = escaped(time_filter(localtime(session.starts_at), "H:i"))
    return mark_safe(  # noqa: S308 (every value is escaped)
        f'\n    <a class="mp-week-session mp-status-{escaped(session.status)}"'
        f' href="{with_id(detail, session.public_id)}">\n'
        f'      <span class="fw-semibold">{at}</span> {escaped(session.duration_minutes)} min ·\n'
        f"      {who}\n"
        f"      {status}\n"
        "    </a>\n    "
    )


# One tag call per list rather than per row (as `hours_tags.history_rows`): each writes what
# `{% for %}` over the row tag wrote (tests/grants/test_list_tags.py renders both).


@register.simple_tag(takes_context=True)
def student_session_rows(
    context: template.Context,
    sessions: Iterable[Session],
    detail: RowLink,
    confirm: RowLink,
    dispute: RowLink,
    cancel_booking: RowLink,
) -> SafeString:
    return mark_safe(  # noqa: S308 (each row escapes its values)
        "".join(
            student_session_row(context, session, detail, confirm, dispute, cancel_booking)
            for session in sessions
        )
    )


@register.simple_tag(takes_context=True)
def relationship_session_rows(
    context: template.Context,
    sessions: Iterable[Session],
    detail: RowLink,
    sees_client_amount: bool,
) -> SafeString:
    return mark_safe(  # noqa: S308 (each row escapes its values)
        "".join(
            relationship_session_row(context, session, detail, sees_client_amount)
            for session in sessions
        )
    )


@register.simple_tag
def check_in_row(
    row: CheckInRow, check_in: RowLink, overdue_after: datetime, with_provider: bool
) -> SafeString:
    """One `<li>` of the check-in list, with the whitespace around it that the loop wrote,
    written in Python with the same filters (tests/sessions_app/test_check_in_list.py renders
    the list both ways; docs/performance.md, "The check-in list and the warning lists")."""
    who = escaped(row.student)
    if with_provider:
        who += f" with {escaped(row.provider)}"
    if row.status == SessionStatus.MISSED:
        badge = '<span class="badge text-bg-warning">Missed</span>'
    elif row.starts_at <= overdue_after:
        badge = '<span class="badge text-bg-danger">Overdue</span>'
    else:
        badge = ""
    when = escaped(date(localtime(row.starts_at), "D M j, H:i"))
    return mark_safe(  # noqa: S308 (every value is escaped)
        '\n  <li class="list-group-item d-flex flex-wrap justify-content-between '
        'align-items-center gap-2">\n'
        "    <div>\n"
        f'      <span class="fw-semibold">{when}</span> · {who} · '
        f"{escaped(row.duration_minutes)} min\n"
        f"      {badge}\n"
        "    </div>\n"
        f'    <a class="btn btn-sm btn-primary" href="{with_id(check_in, row.public_id)}">'
        "Check in</a>\n"
        "  </li>\n  "
    )
