"""labkit.patterns.privacy: personal data hidden before a prompt leaves and restored only for
an allowed role; records encrypted at rest, refused to a wrong key, gone when they expire or
when their subject asks."""
import pytest
from cryptography.fernet import Fernet

from labkit.patterns.access import Denied, Grant, Roles
from labkit.patterns.privacy import Pseudonyms, Records, data_key

ROLES = Roles(grants={
    "support": Grant(agents=frozenset({"triager"}), data=frozenset({"personal data"})),
    "analyst": Grant(agents=frozenset({"triager"})),
})
TEXT = "Ana (ana@example.org) paid with 4111 1111 1111 1111; write to ana@example.org."


def test_personal_data_leaves_as_placeholders_and_comes_back_only_for_an_allowed_role():
    names = Pseudonyms()
    hidden = names.hide(TEXT)
    assert hidden == "Ana ([EMAIL_1]) paid with [CARD_1]; write to [EMAIL_1]."
    answer = "Refund [CARD_1] and confirm to [EMAIL_1]."
    assert names.restore(answer, "support", ROLES, agent="triager") == \
        "Refund 4111 1111 1111 1111 and confirm to ana@example.org."
    with pytest.raises(Denied, match="Role 'analyst' may not use the data 'personal data'"):
        names.restore(answer, "analyst", ROLES, agent="triager")


def test_a_second_address_gets_a_placeholder_of_its_own():
    names = Pseudonyms()
    assert names.hide("a@example.org, b@example.org, a@example.org") == \
        "[EMAIL_1], [EMAIL_2], [EMAIL_1]"


def test_records_round_trip_encrypted_and_a_wrong_key_is_refused(tmp_path):
    path, key = tmp_path / "records.sqlite", Fernet.generate_key()
    records = Records(path, key)
    id = records.put("ana", {"transcript": TEXT}, now=0, keep_s=60)
    assert records.get(id) == {"transcript": TEXT}
    records.close()
    assert b"ana@example.org" not in path.read_bytes()  # at rest, only ciphertext
    with pytest.raises(ValueError, match="encrypted with another one"):
        Records(path, Fernet.generate_key()).get(id)


def test_the_retention_job_deletes_expired_records_and_leaves_nothing_in_the_file(tmp_path):
    path, key = tmp_path / "records.sqlite", Fernet.generate_key()
    records = Records(path, key)
    old = records.put("ana", {"note": "old"}, now=0, keep_s=10)
    new = records.put("bo", {"note": "new"}, now=5, keep_s=100)
    sealed = records.db.execute("SELECT sealed FROM records WHERE id = ?", (old,)).fetchone()[0]
    assert records.purge_expired(now=10) == 1
    assert records.ids() == [new]
    with pytest.raises(KeyError, match=f"No record #{old}: it expired"):
        records.get(old)
    records.close()
    assert sealed not in path.read_bytes()  # not just unlisted: its bytes are gone


def test_erasure_removes_every_record_of_one_person_and_no_one_else(tmp_path):
    records = Records(tmp_path / "records.sqlite", Fernet.generate_key())
    for subject in ("ana", "bo", "ana"):
        records.put(subject, {"about": subject}, now=0, keep_s=1000)
    assert records.erase("ana") == 2
    assert [records.get(id)["about"] for id in records.ids()] == ["bo"]


def test_the_key_comes_from_the_environment_or_the_error_says_how_to_make_one(monkeypatch):
    monkeypatch.delenv("LABKIT_DATA_KEY", raising=False)
    with pytest.raises(KeyError, match="LABKIT_DATA_KEY is not set. Make a key once"):
        data_key()
    key = Fernet.generate_key()
    monkeypatch.setenv("LABKIT_DATA_KEY", key.decode())
    assert data_key() == key
