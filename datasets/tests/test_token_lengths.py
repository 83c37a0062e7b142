"""Token lengths of a validated file, counted with a model folder's own tokenizer (datasets.services)."""

from __future__ import annotations

import pytest

from datasets import services, token_lengths
from datasets.models import FileStatus, TokenLengths, TokenLengthsStatus
from datasets.tests.conftest import SFT_RECORD, jsonl
from llmplatform.errors import ConflictingState, InvalidInput

pytestmark = pytest.mark.django_db

# With the tiny model's word tokenizer: prompt 2 + 3 tokens, response 2; and prompt 4, response 8.
SHORT = {"instruction": "say hi", "input": "to the user", "output": "hi there"}
LONG = {"instruction": "how are you there", "output": "one two three four five six seven eight"}


@pytest.fixture
def add_file(make_dataset, owner, tmp_path):
    def add(content: bytes, task_type: str = "sft", name: str = "pairs.jsonl"):
        source = tmp_path / name
        source.write_bytes(content)
        dataset = make_dataset(task_type)
        return services.add_file_from_path(dataset=dataset, source_path=source, filename=name, created_by=owner)

    return add


def test_it_counts_the_tokens_of_each_field_and_of_each_record(add_file, owner, word_tokenizer_model):
    dataset_file = add_file(jsonl(SHORT, LONG, SHORT))

    lengths = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)

    assert (lengths.status, lengths.records, lengths.progress) == (TokenLengthsStatus.READY, 3, 1.0)
    # The tokenizer was saved truncating at 4 tokens: an 8-word response still counts 8.
    assert lengths.lengths == {"prompt": {"4": 1, "5": 2}, "response": {"2": 2, "8": 1}, "total": {"7": 2, "12": 1}}
    assert (lengths.records_over(7), lengths.records_over(11), lengths.records_over(12)) == (1, 1, 0)


def test_it_counts_a_conversation_s_assistant_turns_as_the_response(add_file, owner, word_tokenizer_model):
    conversation = {
        "messages": [
            {"role": "system", "content": "say hi"},
            {"role": "user", "content": "how are you"},
            {"role": "assistant", "content": "one two"},
            {"role": "user", "content": "three"},
            {"role": "assistant", "content": "four five six"},
        ]
    }
    dataset_file = add_file(jsonl(conversation, SFT_RECORD))

    lengths = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)

    # SFT_RECORD's Chinese words are one unknown word each: one token.
    assert lengths.lengths == {"prompt": {"1": 1, "6": 1}, "response": {"1": 1, "5": 1}, "total": {"2": 1, "11": 1}}


def test_a_preference_pair_is_as_long_as_its_prompt_with_the_longer_answer(add_file, owner, word_tokenizer_model):
    pair = {"prompt": "say hi to the user", "chosen": "hi", "rejected": "hi there how are you"}
    dataset_file = add_file(jsonl(pair), task_type="rl")

    lengths = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)

    assert lengths.lengths == {"prompt": {"5": 1}, "chosen": {"1": 1}, "rejected": {"5": 1}, "total": {"10": 1}}


def test_it_reads_a_plain_text_corpus_line_by_line(add_file, owner, word_tokenizer_model):
    dataset_file = add_file(b"one two three\n\nfour five\n", task_type="pretrain", name="corpus.txt")

    lengths = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)

    assert (lengths.records, lengths.lengths) == (2, {"text": {"2": 1, "3": 1}, "total": {"2": 1, "3": 1}})


def test_it_measures_once_per_file_and_tokenizer(add_file, owner, word_tokenizer_model, training_dir):
    dataset_file = add_file(jsonl(SHORT))
    first = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)
    # The same tokenizer.json in another folder is the same tokenizer.
    copy = training_dir / "models" / "copy"
    copy.mkdir()
    (copy / "tokenizer.json").write_bytes((training_dir / word_tokenizer_model / "tokenizer.json").read_bytes())

    again = services.measure_token_lengths(dataset_file=dataset_file, model="models/copy", actor=owner)

    assert again.pk == first.pk
    assert TokenLengths.objects.count() == 1


def test_a_big_file_is_measured_by_a_worker(
    add_file, owner, word_tokenizer_model, settings, django_capture_on_commit_callbacks
):
    settings.TOKEN_LENGTHS_INLINE_BYTES = 0
    dataset_file = add_file(jsonl(*[SHORT] * 40))

    with django_capture_on_commit_callbacks() as queued:
        lengths = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)
    assert (lengths.status, lengths.progress) == (TokenLengthsStatus.MEASURING, 0.0)
    assert len(queued) == 1
    queued[0]()  # the task, as a worker runs it once the request's transaction commits

    lengths.refresh_from_db()
    assert (lengths.status, lengths.records, lengths.lengths["total"]) == (TokenLengthsStatus.READY, 40, {"7": 40})
    assert lengths.measured_bytes == dataset_file.bytes


def test_it_streams_the_file_in_batches_and_reports_the_bytes_read(
    add_file, owner, word_tokenizer_model, monkeypatch, training_dir
):
    monkeypatch.setattr(token_lengths, "PROGRESS_EVERY_BYTES", 100)
    monkeypatch.setattr(token_lengths, "BATCH_RECORDS", 3)
    dataset_file = add_file(jsonl(*[SHORT, LONG] * 20))
    progress: list[int] = []

    measured = token_lengths.measure(
        dataset_file.absolute_path,
        "sft",
        token_lengths.load_tokenizer(training_dir / word_tokenizer_model / "tokenizer.json"),
        progress=progress.append,
    )

    assert (measured.records, measured.lengths["total"]) == (40, {"7": 20, "12": 20})
    assert len(progress) >= dataset_file.bytes // 200  # at every line that takes it past the next 100 bytes
    assert progress == sorted(progress) and progress[-1] <= dataset_file.bytes


def test_it_needs_the_tokenizer_of_a_model_folder_on_this_host(add_file, owner, word_tokenizer_model):
    dataset_file = add_file(jsonl(SHORT))
    for model in ("Qwen/Qwen2.5-7B", "models/../models/tiny-word-model", "/etc", ""):
        with pytest.raises(InvalidInput, match=r"No tokenizer\.json"):
            services.measure_token_lengths(dataset_file=dataset_file, model=model, actor=owner)
    assert not TokenLengths.objects.exists()


def test_it_finds_a_model_folder_under_models_dir_or_by_its_absolute_path(
    add_file, owner, word_tokenizer_model, settings
):
    dataset_file = add_file(jsonl(SHORT))
    absolute = str(settings.HOST_TRAINING_DIR / word_tokenizer_model)

    lengths = services.measure_token_lengths(dataset_file=dataset_file, model=absolute, actor=owner)

    assert lengths.status == TokenLengthsStatus.READY


def test_a_file_not_yet_valid_is_not_measured(add_file, owner, word_tokenizer_model):
    dataset_file = add_file(jsonl({"messages": "nope"}))
    assert dataset_file.status == FileStatus.INVALID

    with pytest.raises(ConflictingState, match="once it is valid"):
        services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)


def test_a_failed_measurement_is_started_again_when_asked_again(add_file, owner, word_tokenizer_model):
    dataset_file = add_file(jsonl(SHORT))
    content = dataset_file.absolute_path.read_bytes()
    dataset_file.absolute_path.unlink()

    failed = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)
    assert failed.status == TokenLengthsStatus.FAILED
    assert "No such file" in failed.error

    dataset_file.absolute_path.write_bytes(content)
    again = services.measure_token_lengths(dataset_file=dataset_file, model=word_tokenizer_model, actor=owner)

    assert (again.pk, again.status, again.error, again.records) == (failed.pk, TokenLengthsStatus.READY, "", 1)
