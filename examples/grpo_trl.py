"""Two real GRPO steps with TRL's GRPOTrainer, rewarded by judgekit, on the CPU, with nothing downloaded.

The policy is a tiny Qwen2-shaped causal LM with random weights (hidden size 32, 2 layers) and a
character-level tokenizer built in code, with a chat template; the prompts are conversational; the
judge is judgekit's scripted OpenAI-compatible server on 127.0.0.1. Swap in a real model, dataset
and `judgekit.Judge("openai:Qwen/Qwen3-8B", base_url=...)` and nothing else changes.

    python examples/grpo_trl.py                     # two steps, a summary as JSON on the last line
    python examples/grpo_trl.py --server-error 1.0 --strict  # every judge call fails: rewards None, steps still run
    python examples/grpo_trl.py --picklable         # the same with judgekit.TrlReward (builds its judge lazily)
    python examples/grpo_trl.py --guards            # with canaries, an audit judge and rubric dropout on

Needs: pip install torch==2.13.0 trl==1.16.0 (see docs/rl.md).
"""

from __future__ import annotations

import argparse
import json
import string
import sys
import tempfile
import time
import warnings
from typing import Any

import judgekit
from judgekit import rubric_from_data
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState

SPECIALS = ["<pad>", "<eos>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

RUBRIC = rubric_from_data({
    "name": "tiny-helpfulness",
    "criteria": [
        {"id": "answers", "text": "The response answers the question.", "weight": 3},
        {"id": "friendly", "text": "The response is friendly.", "weight": 1},
        {"id": "no_shouting", "text": "The response does not shout in capitals.", "kind": "hard_rule"},
        {"id": "short", "kind": "check", "check": {"type": "max_words", "value": 20}},
    ],
})


def scripted_verdict(cid: str, response: str) -> bool:
    """Stands in for a judge model: deterministic, and it varies across random completions."""
    if cid == "answers":
        return sum(ch in "aeiou" for ch in response) >= 2
    if cid == "friendly":
        return "h" in response or "!" in response
    if cid == "no_shouting":
        return sum(ch.isupper() for ch in response) <= len(response) // 2
    return True


def build_tokenizer() -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = [c for c in string.printable if c not in "\r\x0b\x0c"]
    vocab = {tok: i for i, tok in enumerate(SPECIALS + chars)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
        additional_special_tokens=SPECIALS[3:],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer: Any) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def build_dataset() -> Any:
    from datasets import Dataset

    questions = ["What is the capital of France?", "Say hello.", "Name a colour.", "What is 2 + 2?"]
    # Rows may carry their own rubric (here as a JSON string column; None falls back to RUBRIC).
    own = json.dumps([{"id": "answers", "text": "The response answers the question."}])
    return Dataset.from_list([
        {"prompt": [{"role": "user", "content": q}], "rubric": own if i == 0 else None}
        for i, q in enumerate(questions)
    ])


def run(steps: int = 2, server_error: float = 0.0, strict: bool = False, output_dir: str | None = None,
        picklable: bool = False, guards: bool = False) -> dict[str, Any]:
    from trl import GRPOConfig, GRPOTrainer

    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renames, not ours
    state = ServerState(script=Script(met=scripted_verdict), faults=Faults(server_error=server_error), record=False)
    tokenizer = build_tokenizer()
    settings = {"concurrency": 64, "cache": False, "max_attempts": 1 if server_error else 4}
    with tempfile.TemporaryDirectory() as tmp, ScriptedJudgeServer(state) as server, judgekit.Judge(
        "openai:scripted", base_url=server.base_url, api_key="unused", **settings,
    ) as judge, judgekit.Judge("openai:scripted", base_url=server.base_url, api_key="unused", **settings) as auditor:
        # The guards against reward hacking: one attack per family beside every prompt, half the responses
        # judged again by a second judge (here the same scripted one), half the optional criteria left out.
        watch: dict[str, Any] = ({"canary_rate": 1.0, "audit_judge": auditor, "audit_rate": 0.5, "rubric_dropout": 0.5}
                                 if guards else {})
        config = GRPOConfig(
            output_dir=output_dir or tmp, use_cpu=True, bf16=False, fp16=False, report_to="none",
            max_steps=steps, per_device_train_batch_size=4, num_generations=4, max_completion_length=12,
            learning_rate=1e-3, logging_steps=1, save_strategy="no", temperature=1.0, seed=0,
            use_vllm=False, dataloader_num_workers=0, disable_tqdm=True,
        )
        # The picklable form describes the judge and builds it on first call (what AsyncGRPOTrainer needs).
        reward = (judgekit.TrlReward(RUBRIC, "openai:scripted", base_url=server.base_url, judge_options=settings,
                                     strict=strict) if picklable else judgekit.trl_reward(RUBRIC, judge, strict=strict, **watch))
        trainer = GRPOTrainer(
            model=build_model(tokenizer), reward_funcs=[reward], args=config,
            train_dataset=build_dataset(), processing_class=tokenizer,
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        reward_key = "rewards/judgekit_tiny_helpfulness/mean"
        return {
            "steps": trainer.state.global_step,
            "judge_requests": state.count,
            "train_seconds": seconds,
            "judge_stats": (reward.judge if isinstance(reward, judgekit.TrlReward) else judge).stats.as_dict(),
            "reward_means": [entry.get(reward_key) for entry in trainer.state.log_history if reward_key in entry],
            "criterion_means": {k: v for entry in trainer.state.log_history for k, v in entry.items() if k.startswith("judgekit/")},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--server-error", type=float, default=0.0, help="fraction of judge calls that fail with 500")
    parser.add_argument("--strict", action="store_true", help="None as soon as any criterion is unscored")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--picklable", action="store_true", help="the picklable judgekit.TrlReward instead of trl_reward")
    parser.add_argument("--guards", action="store_true", help="canaries, an audit judge and rubric dropout on")
    args = parser.parse_args(argv)
    summary = run(args.steps, args.server_error, args.strict, args.output_dir, args.picklable, args.guards)
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
