"""The encoder-decoder model with attention (issue 28): a source embedding, a recurrent
encoder of any cell (stacked, bidirectional), a bridge to the decoder's initial state and
an :class:`~minirnn.nn.seq2seq.decoder.AttentionDecoder`.

Shape letters: N batch, S source steps, T target steps, V_src / V_tgt vocabulary sizes,
E embedding features, H hidden features, M = dirs * H encoder output features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import (
    check_bool,
    check_float_dtype,
    check_lengths,
    check_positive_int,
    check_probability,
)
from minirnn.nn.cells.base import State
from minirnn.nn.layers.base import Layer, no_grad
from minirnn.nn.layers.dense import Dense
from minirnn.nn.layers.embedding import Embedding, as_indices
from minirnn.nn.layers.recurrent import Recurrent
from minirnn.nn.registry import register_layer
from minirnn.nn.seq2seq.decoder import AttentionDecoder, DecoderState, resolve_cell
from minirnn.nn.seq2seq.vocab import PAD, check_vocabulary, sequence_mask

__all__ = ["BRIDGES", "EncoderDecoder"]

#: How the encoder's final state becomes the decoder's initial state (``bridge=``).
BRIDGES = ("dense", "zeros")


@register_layer
class EncoderDecoder(Layer):
    """Sequence-to-sequence model: encoder RNN + attention decoder.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        V_src, V_tgt: ids in [0, V). Ids 0-3 are ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>``
        (:mod:`minirnn.nn.seq2seq.vocab`), so each is at least 4.
    embedding_dim : int
        E, features per token (source and target embeddings alike).
    hidden_size : int
        H, the encoder's units per direction and the decoder's units.
    encoder_cell, decoder_cell : str
        ``"rnn"``, ``"gru"``, ``"lstm"`` or a registered cell class name (a custom cell).
    encoder_layers : int
        Stacked encoder layers.
    bidirectional : bool
        A bidirectional encoder: memory features M = 2H (forward direction first).
    attention : {"additive", "general", "dot"}
        The score function (see :class:`AttentionDecoder`).
    attention_dim : int, optional
        The additive attention's hidden size (default H).
    input_feeding : bool
        Luong's input feeding (see :class:`AttentionDecoder`).
    bridge : {"dense", "zeros"}
        ``"dense"``: the decoder's initial ``h`` is ``tanh(bridge.weight @ [h_fwd ; h_bwd]
        + bridge.bias)`` of the encoder's last layer's final ``h`` (both directions, each
        the state at the sequence's last valid step; Bahdanau et al. 2015 used the
        backward one), any other state entry (an LSTM's ``c``) starts at zero; this works
        for any pair of encoder and decoder cells and sizes. ``"zeros"``: the decoder
        starts from zeros (Luong's models copy the state instead; a learned bridge
        generalises that).
    teacher_forcing : float in [0, 1]
        Probability of feeding the true previous token in training (scheduled sampling
        below 1; the model's own argmax is fed otherwise, with no gradient through it).
    dropout : float in [0, 1)
        In training: dropout between stacked encoder layers (PyTorch's ``dropout`` of
        ``nn.GRU``) and on the decoder's attentional vector (see
        :class:`AttentionDecoder`). 0 (the default): none.
    src_vocab, tgt_vocab : list of str, optional
        The token strings, saved in the model file (JSON); each must have exactly
        V tokens and start with the four special tokens (else ValueError).
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional

    Notes
    -----
    ``forward((src, src_lengths, tgt_in, tgt_lengths))`` returns logits (N, T, V_tgt),
    0 at padded target steps. Train with :class:`~minirnn.losses.CrossEntropy` on
    ``tgt_out`` with ``mask=sequence_mask(tgt_lengths, T)``
    (:func:`~minirnn.nn.seq2seq.vocab.target_arrays` builds the arrays), then
    ``backward(dlogits)``. Sub-layers: ``src_embedding`` (``Embedding``, PAD row zero),
    ``encoder`` (:class:`~minirnn.layers.Recurrent`, PyTorch's parameter names),
    ``bridge`` (``Dense(M, H)``, with ``bridge="dense"``), ``decoder``.
    Decode with :func:`~minirnn.nn.seq2seq.decode.greedy_decode` and
    :func:`~minirnn.nn.seq2seq.decode.beam_search`.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embedding_dim: int = 32,
        hidden_size: int = 64,
        *,
        encoder_cell: str = "gru",
        encoder_layers: int = 1,
        bidirectional: bool = True,
        decoder_cell: str = "gru",
        attention: str = "general",
        attention_dim: int | None = None,
        input_feeding: bool = True,
        bridge: str = "dense",
        teacher_forcing: float = 1.0,
        dropout: float = 0.0,
        src_vocab: list[str] | None = None,
        tgt_vocab: list[str] | None = None,
        dtype: Any = np.float32,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.src_vocab_size = check_positive_int(src_vocab_size, "src_vocab_size")
        self.tgt_vocab_size = check_positive_int(tgt_vocab_size, "tgt_vocab_size")
        for name, size in (("src_vocab_size", self.src_vocab_size),
                           ("tgt_vocab_size", self.tgt_vocab_size)):
            if size < 4:
                raise ValueError(f"{name} must be at least 4 (the special tokens <pad>, "
                                 f"<unk>, <bos>, <eos>), got {size}")
        self.src_vocab = check_vocabulary(src_vocab, self.src_vocab_size, "src_vocab")
        self.tgt_vocab = check_vocabulary(tgt_vocab, self.tgt_vocab_size, "tgt_vocab")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.encoder_cell = encoder_cell
        encoder_class = resolve_cell(encoder_cell, "encoder_cell")
        self.encoder_layers = check_positive_int(encoder_layers, "encoder_layers")
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        if bridge not in BRIDGES:
            raise ValueError(f"bridge must be one of {list(BRIDGES)}, got {bridge!r}")
        self.bridge_kind = bridge
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        H = self.hidden_size
        self.src_embedding = Embedding(self.src_vocab_size, self.embedding_dim,
                                       padding_idx=PAD, dtype=dt, seed=rng)
        self.add_layer("src_embedding", self.src_embedding)
        self.dropout = check_probability(dropout, "dropout")
        self.encoder = Recurrent(encoder_class, self.embedding_dim, H, self.encoder_layers,
                                 dropout=self.dropout if self.encoder_layers > 1 else 0.0,
                                 bidirectional=self.bidirectional, dtype=dt, seed=rng)
        self.add_layer("encoder", self.encoder)
        memory = self.encoder.output_size
        self.bridge: Dense | None = None
        self.decoder = AttentionDecoder(
            self.tgt_vocab_size, self.embedding_dim, H, memory, decoder_cell, attention,
            attention_dim, input_feeding, teacher_forcing, dropout=self.dropout, dtype=dt,
            seed=rng)
        if bridge == "dense":
            self.bridge = Dense(memory, self.decoder.state_sizes[0], dtype=dt, seed=rng)
            self.add_layer("bridge", self.bridge)
        self.add_layer("decoder", self.decoder)
        self._cache: Any = None

    # ------------------------------------------------------------------ properties
    @property
    def teacher_forcing(self) -> float:
        """The decoder's teacher-forcing ratio (settable)."""
        return self.decoder.teacher_forcing

    @teacher_forcing.setter
    def teacher_forcing(self, value: float) -> None:
        self.decoder.teacher_forcing = value

    # ------------------------------------------------------------------ checks
    def check_source(self, src: Any, src_lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        """``src`` (N, S) ids in [0, V_src) and ``src_lengths`` (N,) in [1, S]."""
        ids = as_indices(src, self.src_vocab_size, "src")
        if ids.ndim != 2:
            raise ValueError(f"src must have shape (N, S), got {ids.shape}")
        lengths = check_lengths(src_lengths, ids.shape[0], ids.shape[1], "src_lengths")
        return ids, lengths.astype(np.intp)

    def _check_inputs(self, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(x, (tuple, list)) or len(x) != 4:
            raise TypeError("EncoderDecoder input must be a tuple (src, src_lengths, tgt_in, "
                            f"tgt_lengths), got {type(x).__name__}"
                            + (f" of length {len(x)}" if isinstance(x, (tuple, list)) else ""))
        src, src_lengths, tgt_in, tgt_lengths = x
        src_ids, s_len = self.check_source(src, src_lengths)
        tgt = as_indices(tgt_in, self.tgt_vocab_size, "tgt_in")
        if tgt.ndim != 2:
            raise ValueError(f"tgt_in must have shape (N, T), got {tgt.shape}")
        if tgt.shape[0] != src_ids.shape[0]:
            raise ValueError(f"src has {src_ids.shape[0]} sequences but tgt_in has "
                             f"{tgt.shape[0]}")
        t_len = check_lengths(tgt_lengths, tgt.shape[0], tgt.shape[1], "tgt_lengths")
        return src_ids, s_len, tgt, t_len.astype(np.intp)

    # ------------------------------------------------------------------ encoder
    def _encode(self, src: np.ndarray, lengths: np.ndarray, training: bool
                ) -> tuple[np.ndarray, State, np.ndarray | None]:
        """Memory (N, S, M), the decoder's initial state, and the bridge's tanh output."""
        emb = self.src_embedding.forward(src, training=training)
        memory = self.encoder.forward(emb, lengths=lengths, training=training)
        N = src.shape[0]
        state = self.decoder.cell.initial_state(N)
        if self.bridge is None:
            return memory, state, None
        dirs = self.encoder.num_directions
        final = self.encoder.final_state
        assert final is not None
        last = final[0][-dirs:]  # (dirs, N, H): last layer's h
        joined = np.concatenate(list(last), axis=1)  # (N, dirs * H), forward first
        h0 = np.tanh(self.bridge.forward(joined, training=training))
        return memory, (h0, *state[1:]), h0

    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> DecoderState:
        """Run the encoder once (no caches) and return the decoder's starting state."""
        ids, lengths = self.check_source(src, src_lengths)
        with no_grad():
            memory, state, _ = self._encode(ids, lengths, False)
        return self.decoder.start(memory, lengths, state)

    # ------------------------------------------------------------------ contract
    def forward(self, x: Any, *, training: bool = False) -> np.ndarray:
        """``(src, src_lengths, tgt_in, tgt_lengths)`` -> logits (N, T, V_tgt).

        Parameters
        ----------
        x : tuple
            ``src`` (N, S) ids padded with PAD; ``src_lengths`` (N,) in [1, S];
            ``tgt_in`` (N, T) decoder inputs ``[BOS, y_1 .. y_n]`` padded with PAD;
            ``tgt_lengths`` (N,) in [1, T].
        training : bool
            Scheduled sampling with :attr:`teacher_forcing` < 1, and the recurrent
            layers' dropout (none by default).

        Returns
        -------
        ndarray, shape (N, T, V_tgt)
            Logits, 0 at padded target steps. Every input is checked before anything
            runs, so a refused call leaves the last forward's caches as they were.
        """
        src, s_len, tgt, t_len = self._check_inputs(x)
        memory, state, h0 = self._encode(src, s_len, training)
        logits = self.decoder.forward(tgt, memory=memory, memory_lengths=s_len,
                                      tgt_lengths=t_len, initial_state=state,
                                      training=training)
        self._cache = (h0, src.shape, tgt.shape)
        return logits

    def backward(self, dy: np.ndarray) -> tuple[np.ndarray, None, np.ndarray, None]:  # type: ignore[override]
        """dL/dlogits (N, T, V_tgt) -> zeros for the token inputs (ids have no gradient).

        Adds the gradient of every parameter (embeddings, encoder, bridge, decoder).
        """
        if self._cache is None:
            raise RuntimeError("EncoderDecoder.backward called before forward")
        h0, src_shape, tgt_shape = self._cache
        d_memory = self.decoder.backward(dy)
        d_final = None
        if self.bridge is not None:
            assert self.decoder.initial_state_grad is not None
            d_h0 = self.decoder.initial_state_grad[0] * (1.0 - h0 * h0)
            d_joined = self.bridge.backward(d_h0)
            dirs = self.encoder.num_directions
            H = self.encoder.state_sizes[0]
            assert self.encoder.final_state is not None
            d_final = tuple(np.zeros_like(s) for s in self.encoder.final_state)
            for d in range(dirs):
                d_final[0][-dirs + d] = d_joined[:, d * H:(d + 1) * H]
        d_emb = self.encoder.backward(d_memory, d_final)
        self.src_embedding.backward(d_emb)
        return (np.zeros(src_shape, self.dtype), None, np.zeros(tgt_shape, self.dtype), None)

    @staticmethod
    def target_mask(tgt_lengths: np.ndarray, steps: int) -> np.ndarray:
        """The loss mask (N, T): True at valid target steps."""
        return sequence_mask(tgt_lengths, steps)

    def get_config(self) -> dict[str, Any]:
        d = self.decoder
        return {"src_vocab_size": self.src_vocab_size, "tgt_vocab_size": self.tgt_vocab_size,
                "embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size,
                "encoder_cell": self.encoder_cell, "encoder_layers": self.encoder_layers,
                "bidirectional": self.bidirectional, "decoder_cell": d.cell_name,
                "attention": d.attention_kind, "attention_dim": d.attention_dim,
                "input_feeding": d.input_feeding, "bridge": self.bridge_kind,
                "teacher_forcing": d.teacher_forcing, "dropout": self.dropout,
                "src_vocab": None if self.src_vocab is None else list(self.src_vocab),
                "tgt_vocab": None if self.tgt_vocab is None else list(self.tgt_vocab),
                "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        return (f"EncoderDecoder(src_vocab_size={self.src_vocab_size}, tgt_vocab_size="
                f"{self.tgt_vocab_size}, encoder={self.encoder_cell!r} x{self.encoder_layers}"
                f"{' bidirectional' if self.bidirectional else ''}, decoder="
                f"{self.decoder.cell_name!r}, attention={self.decoder.attention_kind!r}, "
                f"input_feeding={self.decoder.input_feeding})")
