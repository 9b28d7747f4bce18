"""The reference of every key is written from the parsers' own tables: every key of experiment,
study and scenario files appears in it, with its rule and default."""

from predictor.config.reference import all_keys, key_reference


def test_the_reference_names_every_key_of_every_file_kind():
    text = key_reference()
    missing = [(kind, key) for kind, keys in all_keys().items() for key in keys if f"``{key}``" not in text]
    assert not missing


def test_the_reference_states_rules_and_defaults():
    text = key_reference()
    assert "must be within 1,000 (the oracle's yardstick)" in text  # a study rule, from the table
    assert "``0.25``" in text  # a default, from the dataclass field (the test fraction)
