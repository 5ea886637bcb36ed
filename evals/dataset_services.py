"""Every write to datasets: create, edit, items by hand, imports, items from logged requests."""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from evals import importers
from evals.models import Dataset, DatasetItem, DatasetUpload

MAX_ITEMS_PER_CALL = 10_000
MAX_REQUESTS_PER_ADD = 1000


class DatasetError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _name(value) -> str:
    name = str(value or "").strip()
    if not name:
        raise DatasetError("name", "is required")
    if len(name) > 200:
        raise DatasetError("name", "must be at most 200 characters")
    return name


def create_dataset(organization, *, name, description: str = "", project=None, user=None) -> Dataset:
    name = _name(name)
    try:
        with transaction.atomic():
            return Dataset.objects.create(organization=organization, name=name, description=str(description or ""),
                                          project=project, created_by=user)
    except IntegrityError:
        raise DatasetError("name", f"a dataset named {name!r} already exists") from None


def update_dataset(dataset: Dataset, *, name=None, description=None) -> Dataset:
    if name is not None:
        dataset.name = _name(name)
    if description is not None:
        dataset.description = str(description)
    try:
        with transaction.atomic():
            dataset.save()
    except IntegrityError:
        raise DatasetError("name", f"a dataset named {dataset.name!r} already exists") from None
    return dataset


def delete_dataset(dataset: Dataset) -> None:
    dataset.delete()


def clean_item(data: dict, where: str = "item") -> tuple[dict, str | None, dict]:
    """(input, expected_output, metadata) of an item given by hand or over the API."""
    try:
        return importers.item_from_object(data)
    except ValueError as exc:
        raise DatasetError(where, str(exc)) from None


def add_items(dataset: Dataset, items: list[dict]) -> list[DatasetItem]:
    """All or nothing: one bad item rejects the call, naming it."""
    if not isinstance(items, list) or not items:
        raise DatasetError("items", "must be a non-empty list")
    if len(items) > MAX_ITEMS_PER_CALL:
        raise DatasetError("items", f"at most {MAX_ITEMS_PER_CALL} per call")
    built = []
    for i, data in enumerate(items):
        item_input, expected, metadata = clean_item(data, f"items[{i}]")
        source = data.get("source_request_id") if isinstance(data, dict) else None
        built.append(DatasetItem(organization_id=dataset.organization_id, dataset=dataset, input=item_input,
                                 expected_output=expected, metadata=metadata,
                                 source_request_id=_uuid_or_error(source, f"items[{i}].source_request_id")))
    with transaction.atomic():
        created = DatasetItem.objects.bulk_create(built)
        dataset.save(update_fields=["updated_at"])
    return created


def _uuid_or_error(value, field: str):
    if value in (None, ""):
        return None
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DatasetError(field, "must be a request id (UUID)") from None


def update_item(item: DatasetItem, data: dict) -> DatasetItem:
    merged = {"input": item.input, "expected_output": item.expected_output, "metadata": item.metadata}
    merged.update({k: v for k, v in data.items() if k in ("input", "expected_output", "metadata")})
    item.input, item.expected_output, item.metadata = clean_item(merged)
    item.save()
    return item


def delete_item(item: DatasetItem) -> None:
    item.delete()


# --- imports ----------------------------------------------------------------------------

@dataclass
class ImportResult:
    imported: int
    skipped: list[importers.BadRow]


def parse_upload(data: bytes | str, *, filename: str = "", fmt: str = "", mapping: dict | None = None
                 ) -> tuple[importers.Parsed, str]:
    """(parsed file, its text). Raises DatasetError for a file that cannot be read at all."""
    try:
        text = importers.decode(data) if isinstance(data, bytes) else data
        fmt = fmt or importers.detect_format(filename, text)
        return importers.parse(text, fmt, mapping), text
    except importers.ImportError_ as exc:
        raise DatasetError(exc.field, str(exc).split(": ", 1)[1]) from None


def import_rows(dataset: Dataset, parsed: importers.Parsed, *, skip_invalid: bool = False) -> ImportResult:
    """All-or-nothing unless the caller chose to skip the bad rows on purpose."""
    if parsed.errors and not skip_invalid:
        lines = "; ".join(f"line {e.line}: {e.reason}" for e in parsed.errors[:20])
        more = f" (and {len(parsed.errors) - 20} more)" if len(parsed.errors) > 20 else ""
        raise DatasetError("file", f"{len(parsed.errors)} bad row(s), nothing imported — {lines}{more}")
    if not parsed.rows:
        raise DatasetError("file", "has no rows to import")
    with transaction.atomic():
        DatasetItem.objects.bulk_create(
            [DatasetItem(organization_id=dataset.organization_id, dataset=dataset, input=row.input,
                         expected_output=row.expected_output, metadata=row.metadata) for row in parsed.rows],
            batch_size=1000,
        )
        dataset.save(update_fields=["updated_at"])
    return ImportResult(len(parsed.rows), parsed.errors)


def import_file(dataset: Dataset, data: bytes | str, *, filename: str = "", fmt: str = "",
                mapping: dict | None = None, skip_invalid: bool = False) -> ImportResult:
    parsed, _ = parse_upload(data, filename=filename, fmt=fmt, mapping=mapping)
    return import_rows(dataset, parsed, skip_invalid=skip_invalid)


def stage_upload(dataset: Dataset, data: bytes, filename: str) -> tuple[DatasetUpload, importers.Parsed]:
    """Keep an uploaded file for its preview; the mapping can change before the import."""
    parsed, text = parse_upload(data, filename=filename)
    DatasetUpload.objects.filter(dataset=dataset).delete()  # one pending upload per dataset
    upload = DatasetUpload.objects.create(organization_id=dataset.organization_id, dataset=dataset,
                                          filename=filename[:300], format=parsed.format, content=text)
    return upload, parsed


def import_upload(upload: DatasetUpload, *, mapping: dict | None, skip_invalid: bool) -> ImportResult:
    parsed, _ = parse_upload(upload.content, fmt=upload.format, mapping=mapping)
    result = import_rows(upload.dataset, parsed, skip_invalid=skip_invalid)
    upload.delete()
    return result


# --- from the request log ---------------------------------------------------------------

def item_from_request(row: dict) -> DatasetItem:
    """A logged call as a dataset item: its conversation as input, its answer as the output."""
    from dashboard import bodies

    conversation = bodies.conversation(row["provider"], bodies.load(row.get("request_body"))) or {}
    messages = [{"role": "system", "content": s} for s in conversation.get("system", [])]
    messages += [{"role": m["role"], "content": m["text"]} for m in conversation.get("messages", [])]
    output = bodies.response_text(row["provider"], bodies.load(row.get("response_body")))
    metadata = {"provider": row.get("provider"), "model": row.get("model")}
    if output:
        metadata["output"] = output
    return DatasetItem(
        input={"messages": messages or [{"role": "user", "content": row.get("request_body") or ""}]},
        expected_output=None, metadata=metadata, source_request_id=row["id"],
    )


def add_requests(dataset: Dataset, rows: list[dict]) -> int:
    """Logged requests (already read for this organization) as items; a request already in
    the dataset is not added twice."""
    if len(rows) > MAX_REQUESTS_PER_ADD:
        raise DatasetError("requests", f"at most {MAX_REQUESTS_PER_ADD} at a time; narrow the filters")
    have = {str(i) for i in dataset.items.exclude(source_request_id=None).values_list("source_request_id", flat=True)}
    items = []
    for row in rows:
        if str(row["id"]) in have or str(row.get("organization_id")) != str(dataset.organization_id):
            continue
        item = item_from_request(row)
        item.organization_id, item.dataset = dataset.organization_id, dataset
        items.append(item)
        have.add(str(row["id"]))
    with transaction.atomic():
        DatasetItem.objects.bulk_create(items)
        dataset.save(update_fields=["updated_at"])
    return len(items)


def export_jsonl(dataset: Dataset):
    """One JSON object per item, in the shape the JSONL import reads back."""
    for item in dataset.items.order_by("created_at", "id").iterator():
        yield json.dumps({
            "input": item.input, "expected_output": item.expected_output, "metadata": item.metadata,
            "source_request_id": str(item.source_request_id) if item.source_request_id else None,
        }, ensure_ascii=False) + "\n"
