"""Two real GRPO steps with TRL's GRPOTrainer, rewarded by judgekit, on the CPU, with nothing downloaded.

The policy is a tiny Qwen2-shaped causal LM with random weights (hidden size 32, 2 layers) and a
character-level tokenizer built in code, with a chat template; the prompts are conversational; the
judge is judgekit's scripted OpenAI-compatible server on 127.0.0.1. Swap in a real model, dataset
and `judgekit.Judge("openai:Qwen/Qwen3-8B", base_url=...)` and nothing else changes.

    python examples/grpo_trl.py                     # two steps, a summary as JSON on the last line
    python examples/grpo_trl.py --server-error 1.0 --strict  # every judge call fails: rewards None, steps still run
    python examples/grpo_trl.py --picklable         # the same with judgekit.TrlReward (builds its judge lazily)
    python examples/grpo_trl.py --guards            # with canaries, an audit judge and rubric dropout on
    python examples/grpo_trl.py --tools             # completions that call a tool; the judge sees call and result
    python examples/grpo_trl.py --tools --view last_reply  # the same, the judge shown only the replies' text

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
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState, judged_texts

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


TOOL_SPECIALS = ["<pad>", "<|im_end|>", "<unk>", "<|im_start|>", "<tool_call>", "</tool_call>"]
CITIES = ["Paris", "Oslo", "Lima", "Cairo"]
READINGS = {city: f"{city}: reading {4400 + i} hPa" for i, city in enumerate(CITIES)}


def weather(city: str) -> str:
    """The current air pressure reading of a city.

    Args:
        city: The city's name.
    """
    return READINGS.get(city, "unknown city")


def tool_rubric(view: str) -> Any:
    return rubric_from_data({
        "name": "tiny-weather", "view": view,
        "criteria": [{"id": "grounded", "text": "The response reports the reading the weather tool returned."}],
    })


def tool_verdict(cid: str, response: str) -> bool:
    """A judge that can only tell a grounded answer by the tool's reading, so it needs to see the result."""
    return any(reading in response for reading in READINGS.values())


def scripted_tool_rollout(prompts: list[Any], trainer: Any) -> dict[str, Any]:
    """The policy's first turn, scripted (a random tiny model never writes a well-formed tool call): every
    other completion calls `weather` in Qwen2.5's format, the rest answer without it. TRL parses the call,
    runs the tool, appends its result and lets the model write the next turn."""
    tokenizer = trainer.processing_class
    prompt_ids, completion_ids = [], []
    for i, prompt in enumerate(prompts):
        prompt_ids.append(tokenizer.apply_chat_template(prompt, tools=[weather], add_generation_prompt=True,
                                                        tokenize=True, return_dict=False))
        city = prompt[-1]["content"].rsplit(" ", 1)[-1].rstrip("?")
        text = (f'<tool_call>\n{{"name": "weather", "arguments": {{"city": "{city}"}}}}\n</tool_call><|im_end|>'
                if i % 2 == 0 else "I cannot check that.<|im_end|>")
        completion_ids.append(tokenizer.encode(text, add_special_tokens=False))
    return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}


def build_tokenizer(tools: bool = False) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # With tools: Qwen2.5's tokens and chat template (which TRL knows how to parse tool calls from).
    specials = TOOL_SPECIALS if tools else SPECIALS
    chars = [c for c in string.printable if c not in "\r\x0b\x0c"]
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token=specials[1], unk_token="<unk>",
        additional_special_tokens=specials[3:4] if tools else specials[3:],
    )
    if tools:
        from trl.chat_template_utils import qwen2_5_chat_template

        tokenizer.add_tokens(specials[4:])  # <tool_call> tokens are plain added tokens in Qwen2.5 too
        tokenizer.chat_template = qwen2_5_chat_template
    else:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer: Any, positions: int = 256) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=positions,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def build_dataset(tools: bool = False) -> Any:
    from datasets import Dataset

    if tools:
        return Dataset.from_list([{"prompt": [{"role": "user", "content": f"What is the pressure in {c}?"}]} for c in CITIES])

    questions = ["What is the capital of France?", "Say hello.", "Name a colour.", "What is 2 + 2?"]
    # Rows may carry their own rubric (here as a JSON string column; None falls back to RUBRIC).
    own = json.dumps([{"id": "answers", "text": "The response answers the question."}])
    return Dataset.from_list([
        {"prompt": [{"role": "user", "content": q}], "rubric": own if i == 0 else None}
        for i, q in enumerate(questions)
    ])


def run(steps: int = 2, server_error: float = 0.0, strict: bool = False, output_dir: str | None = None,
        picklable: bool = False, guards: bool = False, tools: bool = False, view: str = "full") -> dict[str, Any]:
    from trl import GRPOConfig, GRPOTrainer

    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renames, not ours
    state = ServerState(script=Script(met=tool_verdict if tools else scripted_verdict), faults=Faults(server_error=server_error),
                        record=tools)
    tokenizer = build_tokenizer(tools)
    rubric = tool_rubric(view) if tools else RUBRIC
    # With tools, TRL runs `weather` on each call and the model writes the turn after its result.
    tooling: dict[str, Any] = {"tools": [weather], "rollout_func": scripted_tool_rollout} if tools else {}
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
            max_steps=steps, per_device_train_batch_size=4, num_generations=4, max_completion_length=192 if tools else 12,
            learning_rate=1e-3, logging_steps=1, save_strategy="no", temperature=1.0, seed=0,
            use_vllm=False, dataloader_num_workers=0, disable_tqdm=True,
        )
        # The picklable form describes the judge and builds it on first call (what AsyncGRPOTrainer needs).
        reward = (judgekit.TrlReward(rubric, "openai:scripted", base_url=server.base_url, judge_options=settings,
                                     strict=strict) if picklable else judgekit.trl_reward(rubric, judge, strict=strict, **watch))
        trainer = GRPOTrainer(
            model=build_model(tokenizer, 2048 if tools else 256), reward_funcs=[reward], args=config,
            train_dataset=build_dataset(tools), processing_class=tokenizer, **tooling,
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        reward_key = f"rewards/judgekit_{rubric.name.replace('-', '_')}/mean"
        judged = [judged_texts(body).get("response", "") for body in state.requests]
        return {
            "steps": trainer.state.global_step,
            "judge_requests": state.count,
            "train_seconds": seconds,
            "judge_stats": (reward.judge if isinstance(reward, judgekit.TrlReward) else judge).stats.as_dict(),
            "reward_means": [entry.get(reward_key) for entry in trainer.state.log_history if reward_key in entry],
            "criterion_means": {k: v for entry in trainer.state.log_history for k, v in entry.items() if k.startswith("judgekit/")},
            "tool_calls_per_completion": [entry["tools/call_frequency"] for entry in trainer.state.log_history
                                          if "tools/call_frequency" in entry],
            # what the judge was shown: the tool's call (name and arguments) and its result
            "judged_with_tool_call": sum('"city": "' in text and "weather" in text for text in judged),
            "judged_with_tool_result": sum(tool_verdict("", text) for text in judged),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--server-error", type=float, default=0.0, help="fraction of judge calls that fail with 500")
    parser.add_argument("--strict", action="store_true", help="None as soon as any criterion is unscored")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--picklable", action="store_true", help="the picklable judgekit.TrlReward instead of trl_reward")
    parser.add_argument("--guards", action="store_true", help="canaries, an audit judge and rubric dropout on")
    parser.add_argument("--tools", action="store_true", help="completions that call a weather tool (TRL runs it)")
    parser.add_argument("--view", default="full", choices=["last_reply", "assistant", "full"], help="the tool rubric's view")
    args = parser.parse_args(argv)
    summary = run(args.steps, args.server_error, args.strict, args.output_dir, args.picklable, args.guards, args.tools, args.view)
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
