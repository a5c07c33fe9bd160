from django import template

from sessions_app.models import Session
from sessions_app.selectors import SessionActions, session_actions

register = template.Library()


@register.simple_tag(takes_context=True)
def actions_for(context: template.Context, session: Session) -> SessionActions:
    """`{% actions_for s as can %}`: the actions the signed-in member may take on `s`, so that
    every page offers the same buttons (sessions_app.selectors.session_actions)."""
    return session_actions(session, context["membership"])
