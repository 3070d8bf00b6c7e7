"""Context-focused cross-attention: route parts of the prompt to regions of the video
(DiffHDR's ``[Overexposed: ...]`` / ``[Underexposed: ...]`` captions to their exposure masks).

Inference only: :func:`install_routing` wraps the cross-attention processor (``attn2``) of every
block of a Wan / Wan VACE transformer (control blocks included) with
:class:`RoutedCrossAttention`, which hands the original processor an additive attention bias:

* text tokens of a routed part (``over``, ``under``) are seen by a video token with weight
  ``mask`` (bias ``log(mask)``: ``-inf`` outside the mask, 0 where it is 1);
* the description's tokens are seen by every video token;
* padding tokens (after the text's end token) are seen by none, as Wan's own implementation
  masks them with the text lengths.

So a part changes the cross-attention output only inside its mask: outside, a video token sees
exactly the description, as if the prompt held nothing else. The bias applies to the
conditional branch only (the call whose text states equal the routed prompt's), never to the
negative prompt of classifier-free guidance. :func:`remove_routing` restores the processors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hdr_mcp.errors import InvalidArgument

__all__ = ["RoutedCrossAttention", "RoutingState", "install_routing", "remove_routing",
           "token_ranges"]

_ATTRIBUTE = "_hdr_mcp_routing"


@dataclass
class RoutingState:
    """What the routed processors read on each call.

    ``key_ranges``: text token ``[start, stop)`` of each routed part; ``text_tokens``: tokens up
    to and including the end token (the rest is padding); ``masks``: per part, a float tensor
    (video tokens,) in [0, 1] in the transformer's token order; ``condition``: the routed
    prompt's text states (routing applies when a call's text states equal them)."""

    key_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    text_tokens: int | None = None
    masks: dict[str, Any] = field(default_factory=dict)
    condition: Any = None
    enabled: bool = False

    def bias(self, queries: int, keys: int, like: Any) -> Any:
        """Additive attention bias (1, 1, queries, keys) in ``like``'s dtype and device."""
        import torch

        bias = torch.zeros(queries, keys, dtype=torch.float32, device=like.device)
        if self.text_tokens is not None:
            bias[:, self.text_tokens:] = -math.inf
        for part, (start, stop) in self.key_ranges.items():
            mask = self.masks.get(part)
            if mask is None:
                bias[:, start:stop] = -math.inf
                continue
            if mask.shape[0] != queries:
                raise InvalidArgument("masks", tuple(mask.shape), f"the transformer has "
                                      f"{queries} video tokens")
            weight = mask.to(device=like.device, dtype=torch.float32).clamp(0, 1)
            bias[:, start:stop] = torch.log(weight).unsqueeze(1)
        return bias.to(like.dtype).view(1, 1, queries, keys)


class RoutedCrossAttention:
    """A cross-attention processor that adds :class:`RoutingState`'s bias, then runs the
    processor it wraps."""

    def __init__(self, inner: Any, state: RoutingState) -> None:
        self.inner, self.state = inner, state

    def __call__(self, attn: Any, hidden_states: Any, encoder_hidden_states: Any = None,
                 attention_mask: Any = None, rotary_emb: Any = None) -> Any:
        if self.state.enabled and encoder_hidden_states is not None:
            attention_mask = self.state.bias(hidden_states.shape[1],
                                             encoder_hidden_states.shape[1], hidden_states)
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)


def _cross_attentions(transformer: Any) -> list[Any]:
    blocks = [*getattr(transformer, "blocks", []), *getattr(transformer, "vace_blocks", [])]
    found = [block.attn2 for block in blocks if hasattr(block, "attn2")]
    if not found:
        raise InvalidArgument("transformer", type(transformer).__name__,
                              "has no cross-attention blocks to route")
    return found


def install_routing(transformer: Any) -> RoutingState:
    """Wrap every cross-attention processor of ``transformer``; returns the shared state
    (routing starts disabled). Installing twice returns the same state."""
    existing = getattr(transformer, _ATTRIBUTE, None)
    if existing is not None:
        return existing[0]
    state = RoutingState()

    def check_condition(module: Any, args: tuple, kwargs: dict) -> None:
        import torch

        states = kwargs.get("encoder_hidden_states")
        condition = state.condition
        state.enabled = bool(
            condition is not None and states is not None and states.shape == condition.shape
            and torch.equal(states, condition.to(device=states.device, dtype=states.dtype)))

    originals = [(attn, attn.processor) for attn in _cross_attentions(transformer)]
    for attn, processor in originals:
        attn.set_processor(RoutedCrossAttention(processor, state))
    hook = transformer.register_forward_pre_hook(check_condition, with_kwargs=True)
    setattr(transformer, _ATTRIBUTE, (state, originals, hook))
    return state


def remove_routing(transformer: Any) -> None:
    """Put the original processors back (nothing happens when routing is not installed)."""
    installed = getattr(transformer, _ATTRIBUTE, None)
    if installed is None:
        return
    _, originals, hook = installed
    for attn, processor in originals:
        attn.set_processor(processor)
    hook.remove()
    delattr(transformer, _ATTRIBUTE)


def token_ranges(tokenizer: Any, segments: list[tuple[str, str]], max_length: int
                 ) -> tuple[dict[str, tuple[int, int]], int, str]:
    """Token ranges of prompt ``segments`` (``(kind, text)``, joined by spaces).

    Returns ``(ranges of every kind but "base", tokens including the end token, prompt)``.
    Ranges come from tokenising growing prefixes (a segment boundary falls on a space, where
    SentencePiece starts a new token). Parts cut off by ``max_length`` are refused."""
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False).input_ids)

    ranges: dict[str, tuple[int, int]] = {}
    prefix = ""
    for kind, text in segments:
        start = count(prefix) if prefix else 0
        prefix = f"{prefix} {text}".strip() if text else prefix
        if kind != "base":
            ranges[kind] = (start, count(prefix))
    total = count(prefix) + 1
    if total > max_length:
        raise InvalidArgument("prompt", prefix, f"is {total} tokens; the text encoder reads "
                              f"{max_length}: shorten it so the exposure parts are not cut off")
    return ranges, total, prefix
