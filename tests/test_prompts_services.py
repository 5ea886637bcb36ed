"""Prompt versions are immutable, numbered 1, 2, 3…; labels move and keep every move."""
from __future__ import annotations

import pytest

from evals import prompt_services as services
from evals.models import ImmutableVersionError, PromptLabelMove, PromptVersion
from proxy.logentry import prompt_version_uuid


@pytest.fixture
def prompt(org, project, owner):
    return services.create_prompt(org, project, "support-reply", template="Hello {{name}}, about {{topic}}",
                                   commit_note="first", actor=owner)


def test_a_new_prompt_has_version_1_with_variables_from_the_template(prompt, owner):
    [v1] = prompt.versions.all()
    assert v1.version == 1 and v1.author == owner and v1.commit_note == "first"
    assert v1.variables == [{"name": "name", "description": "", "required": True},
                            {"name": "topic", "description": "", "required": True}]


def test_version_ids_are_the_ids_the_proxy_records_for_name_at_number(prompt, org):
    v1 = prompt.versions.get()
    assert str(v1.id) == prompt_version_uuid("support-reply@1", str(org.id))


def test_versions_are_numbered_and_earlier_ones_stay_as_they_were(prompt, owner):
    v2 = services.create_version(prompt, template="Hi {{name}}", actor=owner,
                                 variables=[{"name": "name", "description": "first name", "required": False}])
    assert v2.version == 2
    assert v2.variables == [{"name": "name", "description": "first name", "required": False}]
    assert prompt.versions.get(version=1).template == "Hello {{name}}, about {{topic}}"


def test_no_update_path_changes_a_version(prompt):
    v1 = prompt.versions.get()
    v1.template = "changed"
    with pytest.raises(ImmutableVersionError):
        v1.save()
    with pytest.raises(ImmutableVersionError):
        v1.save(update_fields=["template"])
    with pytest.raises(ImmutableVersionError):
        PromptVersion.objects.filter(id=v1.id).update(template="changed")
    assert PromptVersion.objects.get(id=v1.id).template == "Hello {{name}}, about {{topic}}"


def test_not_even_raw_sql_changes_a_version(prompt):
    from django.db import IntegrityError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    v1 = prompt.versions.get()
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        PromptVersion._base_manager.filter(id=v1.id).update(template="changed")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE evals_promptversion SET template = 'x' WHERE id = %s", [str(v1.id)])
    assert PromptVersion.objects.get(id=v1.id).template == "Hello {{name}}, about {{topic}}"


def test_deleting_the_author_keeps_the_version(prompt, owner):
    from django.contrib.auth import get_user_model

    author = get_user_model().objects.create_user("writer", "w@example.com", "pw-writer-123")
    version = services.create_version(prompt, template="by writer {{name}}", actor=author)
    author.delete()
    version = PromptVersion.objects.get(id=version.id)
    assert version.author is None and version.template == "by writer {{name}}"


def test_archiving_is_the_one_change_and_hides_the_version_from_latest(prompt, owner):
    v2 = services.create_version(prompt, template="v2 {{name}}", actor=owner)
    services.archive_version(v2, actor=owner)
    assert PromptVersion.objects.get(id=v2.id).archived_at is not None
    assert services.latest_version(prompt).version == 1


def test_a_labelled_version_cannot_be_archived(prompt, owner):
    v1 = prompt.versions.get()
    services.move_label(prompt, "production", v1, actor=owner)
    with pytest.raises(services.PromptInputError) as exc:
        services.archive_version(v1, actor=owner)
    assert exc.value.field == "version"


def test_label_moves_are_kept_in_order(prompt, owner, member):
    v1 = prompt.versions.get()
    v2 = services.create_version(prompt, template="v2 {{name}}", actor=owner)
    services.move_label(prompt, "production", v1, actor=owner)
    services.move_label(prompt, "production", v2, actor=member)
    services.move_label(prompt, "production", v2, actor=member)  # no move, no history
    services.move_label(prompt, "production", v1, actor=owner)
    moves = list(PromptLabelMove.objects.filter(prompt=prompt).order_by("id"))
    assert [(m.from_version and m.from_version.version, m.to_version.version, m.moved_by.username) for m in moves] == [
        (None, 1, "owner"), (1, 2, "member"), (2, 1, "owner")]
    assert services.version_for(prompt, label="production").version == 1


@pytest.mark.parametrize("label", ["latest", "3", "Has Space", ""])
def test_reserved_or_bad_label_names_are_refused(prompt, label):
    with pytest.raises(services.PromptInputError) as exc:
        services.move_label(prompt, label, prompt.versions.get())
    assert exc.value.field == "label"


@pytest.mark.parametrize("content, field", [
    ({"template": ""}, "template"),
    ({"kind": "poem", "template": "x"}, "kind"),
    ({"kind": "chat", "messages": []}, "messages"),
    ({"kind": "chat", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"template": "x", "model_config": {"temperature": "hot"}}, "model_config.temperature"),
    ({"template": "x", "variables": [{"name": "a", "required": "yes"}]}, "variables[0].required"),
])
def test_bad_content_names_the_field(prompt, content, field):
    with pytest.raises(services.PromptInputError) as exc:
        services.create_version(prompt, **content)
    assert exc.value.field == field


def test_names_are_unique_per_organization(prompt, org, project, other_org_and_project):
    with pytest.raises(services.PromptInputError) as exc:
        services.create_prompt(org, project, "support-reply", template="x")
    assert exc.value.field == "name"
    other_org, other_project = other_org_and_project
    other = services.create_prompt(other_org, other_project, "support-reply", template="x")
    assert other.versions.get().id != prompt.versions.get().id


def test_a_chat_prompt_finds_variables_in_every_message(org, project):
    prompt = services.create_prompt(org, project, "chat", kind="chat", messages=[
        {"role": "system", "content": "You help {{company}} customers."},
        {"role": "user", "content": "{{question}} ({{company}})"},
    ])
    assert [v["name"] for v in prompt.versions.get().variables] == ["company", "question"]
