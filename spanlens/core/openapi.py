"""The members API in the OpenAPI document (see spanlens.openapi)."""
from __future__ import annotations

from spanlens.openapi.schema import BOOLEAN, INTEGER, STRING, array, enum, json_body, nullable, obj, op, path

TAG = "Members"
ROLE = enum("owner", "admin", "member", "viewer")
MEMBER = obj({"id": INTEGER, "username": STRING, "email": STRING, "role": STRING, "joinedAt": STRING},
             required=["id", "role"])
INVITATION = obj({"id": STRING, "email": STRING, "role": STRING, "status": STRING, "expiresAt": STRING,
                  "invitedBy": nullable(STRING), "expired": BOOLEAN}, required=["id", "email"])
MEMBER_ID = path("member_id", "the membership's id", INTEGER)


def _answer(**properties):
    return obj({"success": {"const": True}, **properties}, required=["success"])


PATHS = {
    "/api/v1/members": {
        "get": op("The organization's members (and, for owners and admins, pending invitations)", tag=TAG,
                  errors=(), response=_answer(organization=obj({"id": STRING, "name": STRING}),
                                              members=array(MEMBER), invitations=array(INVITATION))),
    },
    "/api/v1/members/{member_id}": {
        "patch": op("Change a member's role (signed-in owner or admin)", tag=TAG, params=[MEMBER_ID],
                    body=json_body(obj({"role": ROLE}, required=["role"])), response=_answer(member=MEMBER)),
        "delete": op("Remove a member (signed-in owner or admin)", tag=TAG, params=[MEMBER_ID],
                     response=_answer()),
    },
    "/api/v1/invitations": {
        "post": op("Invite someone by email (signed-in owner or admin)", tag=TAG, status=201,
                   body=obj({"email": {"type": "string", "format": "email"}, "role": ROLE}, required=["email"]),
                   response=_answer(invitation=INVITATION, emailed=BOOLEAN, devAcceptUrl=STRING,
                                    emailError=STRING)),
    },
}
