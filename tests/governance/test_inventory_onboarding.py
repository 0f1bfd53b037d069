"""Issue 18: bulk onboarding. An administrator imports an existing inventory from CSV: a dry run
names every problem by line and column and writes nothing; the import creates every model or
none, audited; the inventory exports in the same columns and reads back unchanged."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.errors import PermissionRefused
from core.models import AuditEvent
from governance import services
from governance.models import ModelIntake
from registry.models import RegisteredModel

pytestmark = pytest.mark.django_db

HEADER = ("name,slug,team,owner,purpose,business_line,decision_type,task,sourcing,vendor_name,"
          "intended_use,intended_users,restrictions,known_limitations,developers,"
          "upstream_models,data_sources,tags,tier")
GOOD = "\n".join([
    HEADER,
    'Bureau feed score,bureau-feed-score,credit,dana,"Scores bureau data, for other models.",'
    'Retail,credit,regression,in_house,,Feeds the scorecard,Credit models,,Stale bureau data,'
    'dana,,Bureau;Core banking,bureau;feed,3',
    'Card fraud rules,card-fraud-rules,fraud,frank,Flags card transactions.,Cards,fraud,'
    'binary_classification,vendor,FraudCo,Authorisation,Fraud analysts,Cards only,,frank,,'
    'Card switch,vendor,2',
    'Retail scorecard,retail-scorecard,credit,dana,Decides retail loans.,Retail,credit,'
    'binary_classification,in_house,,Retail lending,Credit officers,No SMEs,Small sample,,'
    'bureau-feed-score,Bureau,scorecard,1',
]) + "\n"


def import_(actor, text: str, *, dry_run: bool):
    return services.inventory_import(actor=actor, data=text.encode(), dry_run=dry_run,
                                     filename="inventory.csv")


def problems(report) -> set[tuple[int, str]]:
    return {(e.line, e.column) for e in report.errors}


@pytest.fixture
def admin_ready(adam, dana, frank, policy):
    return adam


def test_a_dry_run_names_every_problem_by_line_and_column_and_writes_nothing(
        admin_ready, credit_model):
    text = "\n".join([
        HEADER,
        "One,one,credit,nobody,Purpose.,,credit,regression,,,,,,,,,,,",
        "Two,two,treasury,dana,Purpose.,,loans,regression,,,,,,,,,,,4",
        "Three,one,credit,dana,,,credit,guessing,vendor,,,,,,frank,,,,",
        f"{credit_model.name},fresh,credit,dana,Purpose.,,credit,regression,,,,,,,,ghost,,,",
    ])
    report = import_(admin_ready, text, dry_run=True)
    assert not report.ok and report.rows == 4
    assert problems(report) == {
        (2, "owner"),
        (3, "team"), (3, "decision_type"), (3, "tier"),
        (4, "slug"), (4, "purpose"), (4, "task"), (4, "vendor_name"), (4, "developers"),
        (5, "name"), (5, "upstream_models")}
    by_cell = {(e.line, e.column): e.message for e in report.errors}
    assert "No active user 'nobody'" in by_cell[(2, "owner")]
    assert "No team 'treasury'" in by_cell[(3, "team")] and "credit" in by_cell[(3, "team")]
    assert "also on line 2" in by_cell[(4, "slug")]
    assert "frank is not a data scientist of the team credit" in by_cell[(4, "developers")]
    assert "already in the inventory" in by_cell[(5, "name")]
    assert RegisteredModel.objects.count() == 1
    assert not AuditEvent.objects.filter(action="inventory.import").exists()


def test_the_header_must_name_known_columns_and_every_required_one(admin_ready):
    report = import_(admin_ready, "name,colour,team\nA,red,credit\n", dry_run=True)
    messages = [e.message for e in report.errors]
    assert any("Unknown column 'colour'" in m for m in messages)
    assert {e.column for e in report.errors if "required column" in e.message} == {
        "owner", "purpose", "decision_type", "task"}


def test_a_file_that_is_not_utf8_text_is_refused_whole(admin_ready):
    report = services.inventory_import(actor=admin_ready, data=b"name\n\xff\xfe\n",
                                       dry_run=True)
    assert [e.message for e in report.errors] == [
        "The file is not UTF-8 text: save it as 'CSV UTF-8'."]


def test_the_import_is_all_or_nothing(admin_ready):
    broken = GOOD + "Broken,broken,credit,dana,Purpose.,,credit,regression,,,,,,,,,,,9\n"
    report = import_(admin_ready, broken, dry_run=False)
    assert problems(report) == {(5, "tier")}
    assert not RegisteredModel.objects.exists() and not ModelIntake.objects.exists()


def test_a_clean_import_creates_every_model_with_its_people_links_and_tier(admin_ready, dana):
    assert import_(admin_ready, GOOD, dry_run=True).ok
    assert not RegisteredModel.objects.exists()
    report = import_(admin_ready, GOOD, dry_run=False)
    assert report.ok
    assert sorted(report.created) == ["bureau-feed-score", "card-fraud-rules",
                                      "retail-scorecard"]
    scorecard = RegisteredModel.objects.get(slug="retail-scorecard")
    assert scorecard.owner == dana and scorecard.team.slug == "credit"
    assert [m.slug for m in scorecard.upstream_models.all()] == ["bureau-feed-score"]
    feed = RegisteredModel.objects.get(slug="bureau-feed-score")
    assert feed.data_sources == "Bureau\nCore banking"
    assert sorted(t.name for t in feed.tags.all()) == ["bureau", "feed"]
    assert [u.username for u in feed.developers.all()] == ["dana"]
    vendor = RegisteredModel.objects.get(slug="card-fraud-rules")
    assert vendor.sourcing == "vendor" and vendor.vendor_name == "FraudCo"
    assert ModelIntake.objects.get(model=scorecard).tier == 1
    assert "carried over" in ModelIntake.objects.get(model=vendor).rationale
    event = AuditEvent.objects.get(action="inventory.import")
    assert event.actor_id == admin_ready.pk and event.payload["tiered"] == 3
    assert AuditEvent.objects.filter(action="model.create").count() == 3


def test_the_export_reads_back_as_the_same_rows(admin_ready):
    assert import_(admin_ready, GOOD, dry_run=False).ok
    exported = services.inventory_export(actor=admin_ready)

    def rows(text: str) -> list[dict[str, str]]:
        return sorted(csv.DictReader(io.StringIO(text)), key=lambda r: r["slug"])

    def normal(row: dict[str, str]) -> dict[str, str]:
        return {k: ";".join(sorted(v.split(";"))) if k in ("tags", "developers") else v
                for k, v in row.items()}

    assert [normal(r) for r in rows(exported)] == [normal(r) for r in rows(GOOD)]
    # and the exported file is a valid import once the models are gone
    RegisteredModel.objects.all().delete()
    assert import_(admin_ready, exported, dry_run=False).ok
    assert RegisteredModel.objects.count() == 3


# --- Who may do it, and through which door ----------------------------------------------

def test_only_administrators_import(dana, rhea, policy):
    for person in (dana, rhea):
        with pytest.raises(PermissionRefused, match="Only administrators"):
            import_(person, GOOD, dry_run=True)


def test_the_api_dry_runs_by_default_and_imports_on_request(api, admin_ready, dana, frank):
    url = "/api/v1/inventory/import/"

    def upload(text: str) -> SimpleUploadedFile:
        return SimpleUploadedFile("inventory.csv", text.encode(), content_type="text/csv")

    assert api.as_(dana).post(url, {"file": upload(GOOD)}, format="multipart"
                              ).status_code == 403
    missing = api.as_(admin_ready).post(url, {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["fields"]
    dry = api.as_(admin_ready).post(url, {"file": upload(GOOD)}, format="multipart")
    assert dry.status_code == 200 and dry.json()["valid"] and dry.json()["created"] == []
    bad = api.as_(admin_ready).post(url, {"file": upload(GOOD.replace(",1\n", ",7\n")),
                                          "dry_run": "false"}, format="multipart")
    assert bad.status_code == 400 and "Nothing was imported" in bad.json()["detail"]
    assert list(bad.json()["fields"]) == ["4.tier"]
    assert not RegisteredModel.objects.exists()
    done = api.as_(admin_ready).post(url, {"file": upload(GOOD), "dry_run": "false"},
                                     format="multipart")
    assert done.status_code == 201 and len(done.json()["created"]) == 3
    # the export is scoped: frank sees his team's model only
    exported = api.as_(frank).get("/api/v1/inventory/export/")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    assert [r["slug"] for r in csv.DictReader(io.StringIO(exported.content.decode()))] == [
        "card-fraud-rules"]


def test_the_page_checks_then_imports_the_same_file(client, admin_ready, dana):
    url = reverse("governance:inventory-import")
    client.force_login(dana)
    assert client.get(url).status_code == 403
    client.force_login(admin_ready)
    page = client.get(url).content.decode()
    assert 'id="import-columns"' in page and "<code>tier</code>" in page
    broken = client.post(url, {"file": SimpleUploadedFile(
        "inv.csv", GOOD.replace("dana,Decides", "nobody,Decides").encode())})
    assert broken.status_code == 400
    assert 'id="import-errors"' in broken.content.decode()
    assert "No active user &#x27;nobody&#x27;" in broken.content.decode()
    checked = client.post(url, {"file": SimpleUploadedFile("inv.csv", GOOD.encode())})
    body = checked.content.decode()
    assert checked.status_code == 200 and 'id="import-confirm"' in body
    assert not RegisteredModel.objects.exists()
    content = body.split('name="content" value="')[1].split('"')[0]
    done = client.post(url, {"content": content, "filename": "inv.csv"})
    assert done.status_code == 302 and RegisteredModel.objects.count() == 3
    exported = client.get(reverse("governance:inventory-export"))
    assert exported.status_code == 200 and b"retail-scorecard" in exported.content


def test_the_command_dry_runs_unless_told_to_commit(admin_ready, tmp_path, capsys):
    path = tmp_path / "inventory.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("import_inventory", str(path), "--as", "adam")
    assert "run again with --commit" in capsys.readouterr().out
    assert not RegisteredModel.objects.exists()
    call_command("import_inventory", str(path), "--as", "adam", "--commit")
    assert RegisteredModel.objects.count() == 3
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_inventory", str(path), "--as", "adam", "--commit")
    assert "already in the inventory" in capsys.readouterr().err
