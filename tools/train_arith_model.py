#!/usr/bin/env python3
"""Train rbench's bundled reasoning model: a tiny DeepSeek-V3-style MoE that solves `arith` problems.

Two steps, on two machines:

  # 1. here (the build machine): export training data with the built rbench binary
  python3 tools/train_arith_model.py export --rbench build/rbench --out .device/data --seeds 1-48

  # 2. on the GPU machine (PyTorch, transformers 5, tokenizers, safetensors), with .device/data carried
  python3 tools/train_arith_model.py train --data .device/data --out OUTDIR --train-seconds 300

`export` writes train.jsonl.gz (arith problems of seeds 1..48, 10,000 each, with their worked
solutions) and eval.jsonl.gz (seed 2024, the evaluation seed, problems arith-0..999). A training
problem whose question equals an evaluation question is dropped there, and `train` asserts that none
is left. arith-0..99 of seed 2024 is the suite rbench evaluates (held out: used only for the final
scores); arith-100..999 is a development set that `train` watches during training.

`train` trains a byte-level BPE tokenizer (Qwen2's split regex, so every digit is its own token;
ChatML and <think> special tokens), then a DeepSeek-V3 MoE (MLA with low-rank q/kv and decoupled
RoPE, one dense layer then MoE layers with a shared expert and sigmoid routing over groups, with
DeepSeek-V3's auxiliary-loss-free balancing through e_score_correction_bias), on R1-format answers:

  <|im_start|>user\\n{question}\\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\\n
  <|im_start|>assistant\\n<think>\\n{solution}\\n</think>\\n\\nThe answer is $\\boxed{gold}$.<|im_end|>

with the loss on the assistant turn only. AdamW, bf16 autocast, cosine schedule; the step count is
fixed from a time budget after 30 timed steps (or given with --steps). It writes two checkpoints in
Hugging Face format (bf16 safetensors with one tensor per expert, as DeepSeek's checkpoints have them):
OUTDIR/arith-moe (the full schedule) and OUTDIR/arith-moe-early (a snapshot of the same run taken
early, the one whose greedy exact-match on the development set is closest to --early-target), each
with reference.json (float64 logits of the saved bf16 weights, and greedy ids) and train_stats.json,
and reports sampled accuracy (temperature 0.6, top-p 0.95, 4 samples) on arith-0..99.
"""
import argparse
import gzip
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time

PROMPT_SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
# Qwen2's pre-tokenizer split: letters runs, single digits, punctuation runs, newlines, spaces.
SPLIT_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Qwen2.5's ChatML template without its default system prompt (and without tools).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)
EVAL_PROBLEMS = 100  # seed 2024, arith-0..99: the suite rbench runs by default


def user_turn(question):
    return question + PROMPT_SUFFIX


def prompt_text(question):
    """The chat-rendered prompt plus the assistant prefill "<think>\\n", as rbench sends it."""
    return f"<|im_start|>user\n{user_turn(question)}<|im_end|>\n<|im_start|>assistant\n<think>\n"


def response_text(solution, gold):
    """What the model learns to write after the prefill."""
    return f"{solution}\n</think>\n\nThe answer is $\\boxed{{{gold}}}$.<|im_end|>"


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, flush=True)


# ---------------------------------------------------------------------------------------------------
# export (build machine, standard library only)


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-")
            seeds.extend(range(int(low), int(high) + 1))
        else:
            seeds.append(int(part))
    return seeds


def export_suite(rbench, seed, size):
    out = subprocess.run([rbench, "suites", "export", "arith", "--suite-seed", str(seed), "--suite-size", str(size)],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def cmd_export(args):
    os.makedirs(args.out, exist_ok=True)
    evaluation = export_suite(args.rbench, 2024, 1000)
    assert [p["problem_id"] for p in evaluation[:2]] == ["arith-0", "arith-1"]
    eval_questions = {p["question"] for p in evaluation}
    kept = dropped = 0
    with gzip.open(os.path.join(args.out, "train.jsonl.gz"), "wt", compresslevel=9) as f:
        for seed in parse_seeds(args.seeds):
            assert seed != 2024, "seed 2024 is the evaluation seed"
            for p in export_suite(args.rbench, seed, args.per_seed):
                if p["question"] in eval_questions:
                    dropped += 1
                    continue
                f.write(json.dumps({"q": p["question"], "s": p["solution"], "a": p["gold"], "seed": seed},
                                   separators=(",", ":")) + "\n")
                kept += 1
    with gzip.open(os.path.join(args.out, "eval.jsonl.gz"), "wt", compresslevel=9) as f:
        for p in evaluation:
            f.write(json.dumps(p, separators=(",", ":")) + "\n")
    print(json.dumps({"train_problems": kept, "dropped_equal_to_eval_question": dropped, "seeds": args.seeds,
                      "per_seed": args.per_seed, "eval_problems": len(evaluation)}))


# ---------------------------------------------------------------------------------------------------
# train (GPU machine)


def cmd_train(args):
    import numpy as np
    import torch
    import torch.nn.functional as F
    import transformers
    from safetensors.torch import save_file
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM, GenerationConfig

    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = torch.device("cuda")
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, GPU {torch.cuda.get_device_name(0)}")
    os.makedirs(args.out, exist_ok=True)
    summary = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__},
               "gpu": torch.cuda.get_device_name(0)}

    # ---- data ----
    with gzip.open(os.path.join(args.data, "train.jsonl.gz"), "rt") as f:
        train = [json.loads(line) for line in f]
    with gzip.open(os.path.join(args.data, "eval.jsonl.gz"), "rt") as f:
        evaluation = [json.loads(line) for line in f]
    assert evaluation[0]["problem_id"] == "arith-0" and evaluation[0]["metadata"]["seed"] == 2024
    eval_questions = {p["question"] for p in evaluation}
    overlap = sum(1 for p in train if p["q"] in eval_questions)
    assert overlap == 0, f"{overlap} training questions equal evaluation questions"
    assert all(p["seed"] != 2024 for p in train)
    test_set = evaluation[:EVAL_PROBLEMS]
    dev_set = evaluation[EVAL_PROBLEMS:]
    train_seeds = sorted({p["seed"] for p in train})
    summary["data"] = {"train_problems": len(train), "train_seeds": [train_seeds[0], train_seeds[-1]],
                       "eval_seed": 2024, "test_problems": "arith-0..99", "dev_problems": "arith-100..999"}
    log(f"data: {len(train)} training problems (seeds {train_seeds[0]}..{train_seeds[-1]}), none equal to an "
        f"evaluation question; test arith-0..99, dev arith-100..999 of seed 2024")

    # ---- tokenizer ----
    t0 = time.time()
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=args.vocab, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = [prompt_text(p["q"]) + response_text(p["s"], p["a"]) for p in train[:100000]]
    tok.train_from_iterator(corpus, trainer=trainer)
    vocab_size = tok.get_vocab_size()
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    assert [ids[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS))), ids
    pad_id, eos_id = ids["<|endoftext|>"], ids["<|im_end|>"]
    for digit in "0123456789":
        assert tok.encode(f"x {digit}{digit}7").tokens[-3:] == [digit, digit, "7"], "digits must be single tokens"
    tok_json = tok.to_str()
    tokenizer_config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(ids[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                               "single_word": False, "special": True} for t in SPECIAL_TOKENS},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<think>", "</think>"],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": args.max_position,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }
    import jinja2
    rendered = jinja2.Environment().from_string(CHAT_TEMPLATE).render(
        messages=[{"role": "user", "content": user_turn(test_set[0]["question"])}], add_generation_prompt=True)
    assert rendered + "<think>\n" == prompt_text(test_set[0]["question"]), rendered
    summary["tokenizer"] = {"vocab_size": vocab_size, "requested": args.vocab, "special_ids": ids}
    log(f"tokenizer: {vocab_size} tokens (asked for {args.vocab}) in {time.time() - t0:.1f}s")

    # ---- tokenised data, packed flat on the GPU ----
    t0 = time.time()

    think_id = tok.token_to_id("<think>")
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)

    def pack(problems, q_key, s_key, a_key):
        chunks, lens, plens, prompt_ids = [], [], [], []
        for start in range(0, len(problems), 50000):
            part = problems[start:start + 50000]
            for p, e in zip(part, encode([prompt_text(p[q_key]) + response_text(p[s_key], p[a_key]) for p in part])):
                ids = e.ids
                plen = ids.index(think_id) + 2  # the prompt ends with the prefill "<think>\n"
                chunks.append(np.asarray(ids, dtype=np.int32))
                lens.append(len(ids))
                plens.append(plen)
                prompt_ids.append(ids[:plen])
        for k in range(0, len(problems), max(1, len(problems) // 300)):
            alone = tok.encode(prompt_text(problems[k][q_key])).ids
            assert alone == prompt_ids[k], "the prompt must tokenise the same alone and with its response"
        lens = np.array(lens, dtype=np.int64)
        plens = np.array(plens, dtype=np.int64)
        flat = np.concatenate(chunks)
        offs = np.concatenate([[0], np.cumsum(lens)[:-1]])
        return {"flat": torch.from_numpy(flat).to(dev), "offs": torch.from_numpy(offs).to(dev),
                "lens": torch.from_numpy(lens).to(dev), "plens": torch.from_numpy(plens).to(dev),
                "max_len": int(lens.max()), "tokens": int(lens.sum()), "prompt_ids": prompt_ids}

    train_pack = pack(train, "q", "s", "a")
    dev_pack = pack(dev_set, "question", "solution", "gold")
    test_pack = pack(test_set, "question", "solution", "gold")
    n_train = len(train)
    resp_tokens = int((train_pack["lens"] - train_pack["plens"]).sum())
    summary["data"].update({"train_tokens": train_pack["tokens"], "train_response_tokens": resp_tokens,
                            "max_sequence": train_pack["max_len"]})
    log(f"tokenised in {time.time() - t0:.1f}s: {train_pack['tokens']} tokens ({resp_tokens} in responses), "
        f"longest sequence {train_pack['max_len']}, mean {train_pack['tokens'] / n_train:.0f}")
    assert train_pack["max_len"] < args.max_position

    def make_batch(pk, idx):
        lens, offs, plens = pk["lens"][idx], pk["offs"][idx], pk["plens"][idx]
        length = int(lens.max())
        ar = torch.arange(length, device=dev)
        valid = ar[None, :] < lens[:, None]
        pos = (offs[:, None] + ar[None, :]).clamp(max=pk["flat"].numel() - 1)
        toks = torch.where(valid, pk["flat"][pos], torch.full_like(pos, pad_id, dtype=torch.int32)).long()
        target = valid & (ar[None, :] >= plens[:, None])  # tokens the model must predict
        return toks, target

    # ---- model ----
    def make_config():
        return DeepseekV3Config(
            vocab_size=vocab_size, hidden_size=args.hidden, intermediate_size=args.dense_ffn,
            moe_intermediate_size=args.expert_ffn, num_hidden_layers=args.layers, num_attention_heads=args.heads,
            num_key_value_heads=args.heads, n_shared_experts=1, n_routed_experts=args.experts,
            num_experts_per_tok=args.top_k, n_group=args.groups, topk_group=args.topk_groups,
            routed_scaling_factor=2.5, norm_topk_prob=True, first_k_dense_replace=1,
            q_lora_rank=args.q_lora_rank, kv_lora_rank=args.kv_lora_rank, qk_nope_head_dim=args.qk_nope_dim,
            qk_rope_head_dim=args.qk_rope_dim, v_head_dim=args.v_dim, rope_interleave=True,
            max_position_embeddings=args.max_position, rms_norm_eps=1e-6, tie_word_embeddings=False,
            bos_token_id=None, eos_token_id=eos_id, pad_token_id=pad_id, initializer_range=0.02,
            attention_bias=False, attention_dropout=0.0, use_cache=True)

    def set_experts_impl(model, name):
        try:
            setter = getattr(model, "set_experts_implementation", None)
            if callable(setter):
                setter(name)
            else:
                model.config._experts_implementation = name
        except Exception as e:  # noqa: BLE001 - report and go on with the library's default
            log(f"could not set experts implementation {name!r}: {e!r}")

    def experts_impl(model):
        return getattr(model.config, "_experts_implementation", None)

    config = make_config()
    H, I = args.hidden, args.expert_ffn
    assert H not in (I, 2 * I), "expert weight layouts must be tellable apart by shape"

    def to_checkpoint_layout(state):
        """transformers 5 keeps experts fused (gate_up_proj [E, 2I, H], down_proj [E, H, I]); DeepSeek's
        checkpoints, and the engine, name one tensor per expert."""
        out = {}
        for key, value in state.items():
            value = value.detach().to("cpu")
            if key.endswith("mlp.experts.gate_up_proj"):
                prefix = key[: -len("gate_up_proj")]
                if tuple(value.shape[1:]) == (H, 2 * I):
                    value = value.transpose(1, 2)
                assert tuple(value.shape[1:]) == (2 * I, H), (key, value.shape)
                for e in range(value.shape[0]):
                    out[f"{prefix}{e}.gate_proj.weight"] = value[e, :I].contiguous()
                    out[f"{prefix}{e}.up_proj.weight"] = value[e, I:].contiguous()
            elif key.endswith("mlp.experts.down_proj"):
                prefix = key[: -len("down_proj")]
                if tuple(value.shape[1:]) == (I, H):
                    value = value.transpose(1, 2)
                assert tuple(value.shape[1:]) == (H, I), (key, value.shape)
                for e in range(value.shape[0]):
                    out[f"{prefix}{e}.down_proj.weight"] = value[e].contiguous()
            else:
                out[key] = value.contiguous()
        return out

    def count_params(model):
        total = sum(p.numel() for p in model.parameters())
        routed = sum(p.numel() for n, p in model.named_parameters() if ".mlp.experts." in n)
        active = total - routed + routed * args.top_k // args.experts
        return total, active

    # ---- checkpoint writing, reference and evaluation ----
    def save_checkpoint(state, directory):
        model = DeepseekV3ForCausalLM(make_config())
        model.load_state_dict(state, strict=True)
        model = model.to(torch.bfloat16)
        os.makedirs(directory, exist_ok=True)
        model.save_pretrained(directory)
        for name in os.listdir(directory):
            if name.endswith(".safetensors") or name.endswith(".safetensors.index.json"):
                os.remove(os.path.join(directory, name))
        tensors = to_checkpoint_layout(model.state_dict())
        save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        GenerationConfig(bos_token_id=None, eos_token_id=eos_id, pad_token_id=pad_id, do_sample=True,
                         temperature=0.6, top_p=0.95).save_pretrained(directory)
        with open(os.path.join(directory, "tokenizer.json"), "w") as f:
            f.write(tok_json)
        with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
            json.dump(tokenizer_config, f, indent=2, ensure_ascii=False)
            f.write("\n")
        # Reload through transformers' own loader: every weight must come back bit for bit.
        reloaded = DeepseekV3ForCausalLM.from_pretrained(directory, dtype=torch.bfloat16).to(dev).eval()
        mine, theirs = model.state_dict(), reloaded.state_dict()
        assert set(mine) == set(theirs), (set(mine) ^ set(theirs))
        worst = max((mine[k].float() - theirs[k].float().cpu()).abs().max().item() for k in mine)
        assert worst == 0, f"reloaded checkpoint differs by {worst}"
        model = model.to(dev).eval()
        probe = torch.tensor([test_pack["prompt_ids"][0]], device=dev)
        with torch.no_grad():
            a = model(probe).logits.float()
            b = reloaded(probe).logits.float()
        diff = (a - b).abs().max().item() / max(a.abs().max().item(), 1e-9)
        try:  # the tokenizer files must load in transformers too (reported, not fatal)
            from transformers import AutoTokenizer
            hf_tok = AutoTokenizer.from_pretrained(directory)
            question = test_set[0]["question"]
            text = hf_tok.apply_chat_template([{"role": "user", "content": user_turn(question)}], tokenize=False,
                                              add_generation_prompt=True) + "<think>\n"
            same = text == prompt_text(question) and \
                hf_tok(text, add_special_tokens=True)["input_ids"] == tok.encode(text).ids
            log(f"AutoTokenizer ({type(hf_tok).__name__}): chat template and ids {'match' if same else 'DIFFER'}")
        except Exception as e:  # noqa: BLE001
            log(f"AutoTokenizer check failed: {e!r}")
        size = os.path.getsize(os.path.join(directory, "model.safetensors"))
        log(f"saved {directory}: model.safetensors {size / 1e6:.2f} MB, {len(tensors)} tensors, "
            f"weights reload bit for bit; logits vs the in-hand model {diff:.2g} (its RoPE inv_freq was cast to bf16)")
        return reloaded

    def write_reference(directory, prompt_ids, input_ids, greedy_count=20):
        torch.set_num_threads(min(16, os.cpu_count() or 1))
        m64 = DeepseekV3ForCausalLM.from_pretrained(directory, dtype=torch.float64,
                                                    attn_implementation="eager").eval()
        set_experts_impl(m64, "eager")
        m32 = DeepseekV3ForCausalLM.from_pretrained(directory, dtype=torch.float32,
                                                    attn_implementation="eager").eval()
        set_experts_impl(m32, "eager")
        with torch.no_grad():
            x = torch.tensor([input_ids])
            l64 = m64(x).logits[0].double()
            l32 = m32(x).logits[0].double()
            greedy = list(prompt_ids)
            for _ in range(greedy_count):  # full forward each step, EOS disabled
                greedy.append(int(m64(torch.tensor([greedy])).logits[0, -1].argmax()))
        diff32 = (l64 - l32).abs().max().item()
        top2 = l64.topk(2, dim=-1).values
        margin = (top2[:, 0] - top2[:, 1]).min().item()
        ref = {"input_ids": list(input_ids), "logits_fp64": l64.tolist(), "prompt_ids": list(prompt_ids),
               "greedy_ids": greedy[len(prompt_ids):], "max_abs_diff_fp32_vs_fp64": diff32,
               "reference_precision": "fp64",
               "note": "logits of the saved bf16 weights run in float64 by transformers "
                       f"{transformers.__version__} (eager attention, eager experts); input_ids = the rendered "
                       "chat prompt of arith-0 (seed 2024) with the <think> prefill plus the first tokens of its "
                       "reference solution; greedy_ids continue prompt_ids with EOS disabled"}
        with open(os.path.join(directory, "reference.json"), "w") as f:
            json.dump(ref, f)
        log(f"reference {directory}: {len(input_ids)} positions, fp32 vs fp64 max abs diff {diff32:.2g}, "
            f"max |logit| {l64.abs().max().item():.2f}, smallest top-2 margin {margin:.3g}")
        return {"max_abs_diff_fp32_vs_fp64": diff32, "min_top2_margin": margin}

    boxed = re.compile(r"\\boxed\{([^{}]*)\}")

    def grade(text, gold):
        answer = text.split("</think>")[-1] if "</think>" in text else ""
        found = boxed.findall(answer)
        return bool(found) and found[-1].strip() == str(gold)

    def sample_eval(model, problems, prompt_ids, k, greedy, max_new_tokens, seed):
        torch.manual_seed(seed)
        rows = [ids for ids in prompt_ids for _ in range(k)]
        width = max(len(r) for r in rows)
        x = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, ids in enumerate(rows):  # left padding
            x[r, width - len(ids):] = torch.tensor(ids)
            mask[r, width - len(ids):] = 1
        kwargs = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=0.6, top_p=0.95, top_k=0)
        config = GenerationConfig(max_new_tokens=max_new_tokens, eos_token_id=eos_id, pad_token_id=pad_id,
                                  bos_token_id=None, **kwargs)
        t0 = time.time()
        with torch.no_grad():
            out = model.generate(input_ids=x.to(dev), attention_mask=mask.to(dev), generation_config=config)
        seconds = time.time() - t0
        new = out[:, width:].tolist()
        correct, lengths, truncated = [], [], 0
        for r, ids in enumerate(new):
            if eos_id in ids:
                ids = ids[: ids.index(eos_id)]
            else:
                truncated += 1
            lengths.append(len(ids))
            correct.append(grade(tok.decode(ids, skip_special_tokens=False), problems[r // k]["gold"]))
        per_problem = [sum(correct[i * k:(i + 1) * k]) / k for i in range(len(problems))]
        return {"accuracy": sum(correct) / len(correct), "k": k, "problems": len(problems),
                "per_problem": per_problem, "mean_new_tokens": sum(lengths) / len(lengths),
                "truncated": truncated, "seconds": seconds,
                "example": tok.decode(new[0], skip_special_tokens=False)}

    # ---- training pieces ----
    def build_model(seed):
        torch.manual_seed(seed)
        model = DeepseekV3ForCausalLM(make_config()).to(dev)
        model.train()
        return model

    balance_counts = {}

    def install_balance_hooks(model):
        """DeepSeek-V3's auxiliary-loss-free balancing: after each step, nudge each routed expert's
        selection bias toward the mean load (bias += u * sign(mean - load))."""
        handles = []
        for i, layer in enumerate(model.model.layers):
            experts = getattr(layer.mlp, "experts", None)
            gate = getattr(layer.mlp, "gate", None)
            if experts is None or not hasattr(gate, "e_score_correction_bias"):
                continue

            def hook(module, hook_args, hook_kwargs, layer_index=i):
                found = [a for a in list(hook_args) + list(hook_kwargs.values())
                         if torch.is_tensor(a) and not a.is_floating_point()]
                if found:
                    balance_counts[layer_index] = torch.bincount(found[0].reshape(-1), minlength=args.experts)

            handles.append(experts.register_forward_pre_hook(hook, with_kwargs=True))
        return handles

    def update_balance(model):
        with torch.no_grad():
            for i, counts in balance_counts.items():
                bias = model.model.layers[i].mlp.gate.e_score_correction_bias
                load = counts.float()
                bias.add_(args.balance_rate * torch.sign(load.mean() - load))
        balance_counts.clear()

    def make_optimizer(model):
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed_tokens" not in n]
        other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed_tokens" not in n)]
        return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                  {"params": other, "weight_decay": 0.0}],
                                 lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)

    def loss_of(model, toks, target):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            hidden = model.model(input_ids=toks, use_cache=False).last_hidden_state
            m = target[:, 1:]
            logits = model.lm_head(hidden[:, :-1][m])
        return F.cross_entropy(logits.float(), toks[:, 1:][m])

    @torch.no_grad()
    def teacher_forced_exact(model, pk, count):
        """Share of problems whose every response token is the argmax given the gold prefix: exactly the
        share that greedy decoding answers word for word."""
        model.eval()
        idx = torch.arange(min(count, pk["lens"].numel()), device=dev)
        toks, target = make_batch(pk, idx)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=toks, use_cache=False).logits
        ok = (logits[:, :-1].argmax(-1) == toks[:, 1:]) | ~target[:, 1:]
        model.train()
        return ok.all(dim=1).float().mean().item()

    # ---- preflight: every step of the pipeline on an untrained model, before spending the budget ----
    t0 = time.time()
    pre = build_model(args.seed + 1)
    log(f"experts implementation by default: {experts_impl(pre)!r}; attention {pre.config._attn_implementation!r}")
    impl, trains = None, False
    for candidate in ([None, "eager"] if args.experts_impl == "auto" else [args.experts_impl]):
        try:
            if candidate:
                set_experts_impl(pre, candidate)
            opt = make_optimizer(pre)
            toks, target = make_batch(train_pack, torch.arange(8, device=dev))
            loss = loss_of(pre, toks, target)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            impl, trains = candidate, True
            break
        except Exception as e:  # noqa: BLE001
            log(f"training step with experts implementation {candidate or experts_impl(pre)!r} failed: {e!r}")
    assert trains, "no experts implementation trains"
    pre_state = {k: v.detach().clone() for k, v in pre.state_dict().items()}
    reloaded = save_checkpoint(pre_state, os.path.join(args.out, "preflight"))
    write_reference(os.path.join(args.out, "preflight"), test_pack["prompt_ids"][0],
                    test_pack["prompt_ids"][0] + [5, 6, 7], greedy_count=3)
    r = sample_eval(reloaded, test_set[:4], test_pack["prompt_ids"][:4], 2, False, 8, args.seed)
    log(f"preflight passed in {time.time() - t0:.1f}s (untrained sample accuracy {r['accuracy']:.2f}); "
        f"experts implementation for training: {impl or experts_impl(pre)!r}")
    shutil.rmtree(os.path.join(args.out, "preflight"))
    del pre, reloaded, opt

    # ---- training ----
    model = build_model(args.seed)
    if impl:
        set_experts_impl(model, impl)
    summary["experts_implementation"] = impl or experts_impl(model)
    total_params, active_params = count_params(model)
    summary["params"] = {"total": total_params, "active_per_token": active_params}
    log(f"model: {total_params / 1e6:.3f}M parameters ({active_params / 1e6:.3f}M active per token)")
    hooks = install_balance_hooks(model)
    opt = make_optimizer(model)
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    perm = torch.randperm(n_train, device=dev, generator=gen)
    cursor = 0
    total_steps = args.steps or 10**9
    warmup = args.warmup
    eval_every = None
    curve, snapshots = [], []
    t_train = time.time()
    t_mark = None
    step = 0
    tokens_seen = 0
    loss_sum, loss_n = 0.0, 0
    while step < total_steps:
        if cursor + args.batch > n_train:
            perm = torch.randperm(n_train, device=dev, generator=gen)
            cursor = 0
        idx = perm[cursor:cursor + args.batch]
        cursor += args.batch
        if step < warmup:
            lr = args.lr * (step + 1) / warmup
        else:
            progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            lr = args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
        for group in opt.param_groups:
            group["lr"] = lr
        toks, target = make_batch(train_pack, idx)
        loss = loss_of(model, toks, target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        update_balance(model)
        step += 1
        tokens_seen += toks.numel()
        loss_sum += loss.item() if step % 25 == 0 else 0.0
        loss_n += 1 if step % 25 == 0 else 0
        if step == 10:
            torch.cuda.synchronize()
            t_mark = time.time()
        if step == 40 and not args.steps:
            torch.cuda.synchronize()
            step_time = (time.time() - t_mark) / 30
            left = args.train_seconds - (time.time() - t_train)
            total_steps = max(200, 40 + int(left / (step_time * 1.06)))  # ~6% for the periodic evaluations
            log(f"step time {step_time * 1000:.1f} ms -> {total_steps} steps for a {args.train_seconds}s budget")
        if eval_every is None and total_steps < 10**9:
            eval_every = max(20, total_steps // args.snapshots)
        if eval_every and (step % eval_every == 0 or step == total_steps):
            em = teacher_forced_exact(model, dev_pack, args.dev_eval)
            balance_counts.clear()
            curve.append({"step": step, "seconds": round(time.time() - t_train, 1), "lr": lr,
                          "train_loss": loss_sum / max(1, loss_n), "dev_greedy_exact": em})
            snapshots.append((step, em, {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}))
            loss_sum, loss_n = 0.0, 0
            log(f"step {step}/{total_steps} lr {lr:.2e} loss {curve[-1]['train_loss']:.4f} dev greedy exact {em:.3f} "
                f"({time.time() - t_train:.0f}s, {tokens_seen / (time.time() - t_train) / 1e6:.2f}M tok/s)")
        if time.time() - t_train > args.train_seconds * 1.25:
            log(f"stopping at step {step}: over the time budget")
            break
    torch.cuda.synchronize()
    train_seconds = time.time() - t_train
    for h in hooks:
        h.remove()
    biases = [layer.mlp.gate.e_score_correction_bias.tolist() for layer in model.model.layers
              if hasattr(getattr(layer.mlp, "gate", None), "e_score_correction_bias")]
    log(f"MoE layers with load balancing hooks: {len(hooks)}")
    summary["training"] = {"steps": step, "planned_steps": total_steps, "batch": args.batch, "lr": args.lr,
                           "min_lr_ratio": args.min_lr_ratio, "warmup": warmup, "weight_decay": args.weight_decay,
                           "clip": args.clip, "balance_rate": args.balance_rate, "seconds": train_seconds,
                           "tokens_seen": tokens_seen, "epochs": step * args.batch / n_train, "curve": curve,
                           "final_selection_bias": biases}
    log(f"trained {step} steps in {train_seconds:.0f}s ({step * args.batch / n_train:.2f} epochs)")

    # ---- the two checkpoints ----
    final_state = snapshots[-1][2] if snapshots and snapshots[-1][0] == step else \
        {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    early = None
    for s in snapshots[:-1]:
        if early is None or abs(s[1] - args.early_target) < abs(early[1] - args.early_target):
            early = s
    assert early is not None
    log(f"early sibling: snapshot of step {early[0]} (dev greedy exact {early[1]:.3f})")
    results = {}
    ref_input = test_pack["prompt_ids"][0]
    full0 = tok.encode(prompt_text(test_set[0]["question"]) +
                       response_text(test_set[0]["solution"], test_set[0]["gold"])).ids
    ref_input_ids = full0[: len(ref_input) + args.reference_extra]
    for name, state, at_step in (("arith-moe", final_state, step), ("arith-moe-early", early[2], early[0])):
        directory = os.path.join(args.out, name)
        loaded = save_checkpoint(state, directory)
        if impl:
            set_experts_impl(loaded, impl)
        ref = write_reference(directory, ref_input, ref_input_ids)
        sampled = sample_eval(loaded, test_set, test_pack["prompt_ids"], 4, False, args.max_new_tokens, args.seed)
        greedy = sample_eval(loaded, test_set, test_pack["prompt_ids"], 1, True, args.max_new_tokens, args.seed)
        dev_em = next((c["dev_greedy_exact"] for c in curve if c["step"] == at_step), None)
        stats = {"name": name, "step": at_step, "of_steps": step, "dev_greedy_exact": dev_em,
                 "test_sampled_avg@4": sampled["accuracy"], "test_greedy": greedy["accuracy"],
                 "sampled": {k: v for k, v in sampled.items() if k != "per_problem"},
                 "greedy": {k: v for k, v in greedy.items() if k != "per_problem"},
                 "per_problem_sampled": sampled["per_problem"], "reference": ref,
                 "params": summary["params"], "train_seconds_total": train_seconds}
        with open(os.path.join(directory, "train_stats.json"), "w") as f:
            json.dump(stats, f, indent=1)
        results[name] = stats
        log(f"{name} (step {at_step}): arith-0..99 sampled avg@4 {sampled['accuracy']:.3f} "
            f"({sampled['seconds']:.1f}s, {sampled['mean_new_tokens']:.0f} new tokens, "
            f"{sampled['truncated']} truncated), greedy {greedy['accuracy']:.3f}")
        log(f"{name} example: {sampled['example']!r}")
    summary["results"] = {n: {k: v for k, v in r.items() if k not in ("per_problem_sampled",)}
                          for n, r in results.items()}
    summary["wall_seconds"] = time.time() - t_start
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log(f"done in {summary['wall_seconds']:.0f}s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="export arith training data with the rbench binary")
    ex.add_argument("--rbench", default="build/rbench")
    ex.add_argument("--out", default=".device/data")
    ex.add_argument("--seeds", default="1-48", help="training suite seeds, e.g. 1-48 (never 2024)")
    ex.add_argument("--per-seed", type=int, default=10000)
    tr = sub.add_parser("train", help="train the tokenizer and the two checkpoints (GPU)")
    tr.add_argument("--data", default=".device/data")
    tr.add_argument("--out", required=True)
    tr.add_argument("--seed", type=int, default=1234)
    tr.add_argument("--vocab", type=int, default=768)
    tr.add_argument("--hidden", type=int, default=256)
    tr.add_argument("--layers", type=int, default=6)
    tr.add_argument("--heads", type=int, default=4)
    tr.add_argument("--dense-ffn", type=int, default=512)
    tr.add_argument("--expert-ffn", type=int, default=64)
    tr.add_argument("--experts", type=int, default=8)
    tr.add_argument("--top-k", type=int, default=2)
    tr.add_argument("--groups", type=int, default=4)
    tr.add_argument("--topk-groups", type=int, default=2)
    tr.add_argument("--q-lora-rank", type=int, default=96)
    tr.add_argument("--kv-lora-rank", type=int, default=64)
    tr.add_argument("--qk-nope-dim", type=int, default=32)
    tr.add_argument("--qk-rope-dim", type=int, default=16)
    tr.add_argument("--v-dim", type=int, default=32)
    tr.add_argument("--max-position", type=int, default=1024)
    tr.add_argument("--batch", type=int, default=384)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--min-lr-ratio", type=float, default=0.05)
    tr.add_argument("--warmup", type=int, default=100)
    tr.add_argument("--weight-decay", type=float, default=0.1)
    tr.add_argument("--clip", type=float, default=1.0)
    tr.add_argument("--balance-rate", type=float, default=1e-3)
    tr.add_argument("--steps", type=int, default=0, help="fixed step count (default: from --train-seconds)")
    tr.add_argument("--train-seconds", type=float, default=300)
    tr.add_argument("--snapshots", type=int, default=40, help="development evaluations (and snapshots) per run")
    tr.add_argument("--dev-eval", type=int, default=512, help="development problems per evaluation")
    tr.add_argument("--early-target", type=float, default=0.5,
                    help="the early sibling is the snapshot whose dev greedy exact-match is closest to this")
    tr.add_argument("--reference-extra", type=int, default=24, help="solution tokens after the prompt in reference.json")
    tr.add_argument("--max-new-tokens", type=int, default=400)
    tr.add_argument("--experts-impl", default="auto", help="auto (library default, else eager), eager, grouped_mm, ...")
    args = parser.parse_args()
    {"export": cmd_export, "train": cmd_train}[args.command](args)


if __name__ == "__main__":
    main()
