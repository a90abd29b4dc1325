"""Layer 1: dealer-free zero-sum masks from pairwise X25519 seeds (DESIGN §5), dropout recovery.

For receiver r, request q and sender set S, member j ∈ S ∪ {r} holds
k_j = Σ_{l ∈ S∪{r}, l≠j} sign(j, l) · PRG(slot_key_jl), sign = +1 if j < l (address order) else −1,
so Σ_j k_j = 0 in the task's ring (mod 2^32 or 2^64). slot_key_jl = HKDF(seed_jl, task, epoch,
r, q) and seed_jl comes from X25519(j, l); a slot key is revealed for dropout recovery, the seed
never is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from dppdl.crypto.blob import UINT64_MAX, UINT256_MAX, check_address
from dppdl.crypto.codec import RING_WORDS
from dppdl.crypto.errors import CryptoInputError, MaskError
from dppdl.crypto.keys import PartyKeys
from dppdl.crypto.primitives import KEY_LEN, KeystreamAdder, hkdf_sha256, x25519_agree

SEED_INFO = b"dppdl/mask-seed/v1"  # HKDF info prefix for long-term pairwise seeds
SLOT_INFO = b"dppdl/mask-slot/v1"  # HKDF info prefix for per-slot keys


def pair_sign(owner: bytes, peer: bytes) -> int:
    """+1 if `owner` sorts before `peer`, else −1: the two ends of a pair cancel."""
    return 1 if owner < peer else -1


def members_of(*, senders: Iterable[bytes], receiver: bytes) -> list[bytes]:
    """Sorted S ∪ {r}; rejects duplicates, malformed addresses and a receiver among the senders."""
    receiver = check_address(receiver, "receiver")
    sender_list = [check_address(s, "sender") for s in senders]
    if len(set(sender_list)) != len(sender_list):
        raise MaskError("sender set contains a duplicate address")
    if receiver in sender_list:
        raise MaskError("the receiver cannot be one of its own senders")
    return sorted([*sender_list, receiver])


def _slot_info(*, task: int, epoch: int, receiver: bytes, round_id: int) -> bytes:
    for value, limit, what in ((task, UINT256_MAX, "task"), (epoch, UINT64_MAX, "epoch"),
                               (round_id, UINT256_MAX, "round_id")):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            raise CryptoInputError(f"{what} must be an integer in [0, {limit}]")
    return (SLOT_INFO + task.to_bytes(32, "big") + epoch.to_bytes(8, "big")
            + check_address(receiver, "receiver") + round_id.to_bytes(32, "big"))  # fmt: skip


def add_pair_stream(
    acc: np.ndarray,
    slot_key: bytes,
    *,
    owner: bytes,
    peer: bytes,
    adder: KeystreamAdder | None = None,
) -> None:
    """acc += sign(owner, peer) · PRG(slot_key), in place."""
    (adder or KeystreamAdder()).add(acc, slot_key, sign=pair_sign(owner, peer))


class PairwiseMasks:
    """One party's view of its pairwise seeds for a task; seeds are derived lazily and cached.

    Holds a reusable keystream buffer: use one instance per thread.
    """

    def __init__(self, *, keys: PartyKeys, address: bytes, peer_publics: Mapping[bytes, bytes]):
        self.keys = keys
        self.address = check_address(address, "own address")
        self._publics = {
            check_address(a, "peer address"): bytes(p) for a, p in peer_publics.items()
        }
        recorded = self._publics.pop(self.address, None)
        if recorded is not None and recorded != keys.public_bytes:
            raise MaskError("the public key recorded for this address is not this party's key")
        self._seeds: dict[bytes, bytes] = {}
        self._adder = KeystreamAdder()

    def public_key_of(self, peer: bytes) -> bytes:
        """The X25519 public key recorded for `peer` (from its init transaction)."""
        try:
            return self._publics[peer]
        except KeyError:
            raise MaskError(f"no public key known for 0x{peer.hex()}") from None

    def _seed(self, peer: bytes) -> bytes:
        if peer == self.address:
            raise MaskError("a party has no pairwise seed with itself")
        seed = self._seeds.get(peer)
        if seed is None:
            shared = x25519_agree(self.keys.x25519, peer_public=self.public_key_of(peer))
            low, high = sorted((self.address, peer))
            seed = hkdf_sha256(shared, info=SEED_INFO + low + high)
            self._seeds[peer] = seed
        return seed

    def slot_key(
        self, peer: bytes, *, task: int, epoch: int, receiver: bytes, round_id: int
    ) -> bytes:
        """The per-(task, epoch, receiver, request, pair) key shared with `peer`."""
        info = _slot_info(task=task, epoch=epoch, receiver=receiver, round_id=round_id)
        return hkdf_sha256(self._seed(check_address(peer, "peer")), info=info)

    def mask(self, *, task: int, epoch: int, receiver: bytes, round_id: int,
             senders: Iterable[bytes], length: int) -> np.ndarray:  # fmt: skip
        """This party's mask k_j for the slot (a sender's, or the receiver's own k_r), as
        uint64 words (`add_mask` takes the task's ring)."""
        acc = np.zeros(length, dtype=np.uint64)
        self.add_mask(acc, task=task, epoch=epoch, receiver=receiver, round_id=round_id,
                      senders=senders)  # fmt: skip
        return acc

    def add_mask(self, acc: np.ndarray, *, task: int, epoch: int, receiver: bytes,
                 round_id: int, senders: Iterable[bytes]) -> None:  # fmt: skip
        """acc += this party's mask for the slot, in place (acc: 1-D uint32 or uint64)."""
        members = members_of(senders=senders, receiver=receiver)
        if self.address not in members:
            raise MaskError("this party is neither the receiver nor one of the senders")
        if acc.dtype not in RING_WORDS or acc.ndim != 1:
            raise CryptoInputError("the mask accumulator must be a 1-D uint32 or uint64 array")
        keys = {  # derive every key first, so a missing public key leaves acc untouched
            peer: self.slot_key(peer, task=task, epoch=epoch, receiver=receiver,
                                round_id=round_id)
            for peer in members if peer != self.address
        }  # fmt: skip
        for peer, key in keys.items():
            add_pair_stream(acc, key, owner=self.address, peer=peer, adder=self._adder)

    def reveal_slot_keys(self, *, task: int, epoch: int, receiver: bytes, round_id: int,
                         dropped: Iterable[bytes]) -> dict[bytes, bytes]:  # fmt: skip
        """Slot keys with senders that never uploaded, for the receiver's recovery; never seeds.

        Reveal only for senders the chain shows as missed: revealing for a sender whose blob
        did arrive would let the receiver open that sender's vector alone. A late blob from a
        sender whose keys were revealed must likewise be refused.
        """
        receiver = check_address(receiver, "receiver")
        if self.address == receiver:
            raise MaskError("the receiver derives its own slot keys; it reveals nothing")
        out: dict[bytes, bytes] = {}
        for peer in dropped:
            peer = check_address(peer, "dropped sender")
            if peer in (self.address, receiver):
                raise MaskError("dropped set may not contain the revealer or the receiver")
            out[peer] = self.slot_key(peer, task=task, epoch=epoch, receiver=receiver,
                                      round_id=round_id)  # fmt: skip
        return out

    def unmask(
        self, acc: np.ndarray, *, task: int, epoch: int, round_id: int,
        senders: Iterable[bytes], arrived: Iterable[bytes],
        revealed: Mapping[bytes, Mapping[bytes, bytes]] | None = None,
    ) -> None:  # fmt: skip
        """Turn acc = Σ_{j∈arrived} c_j into Σ_{j∈arrived} m_j in place (receiver side).

        Adds k_r + Σ_{d dropped} k_d, where each k_d is rebuilt from the receiver's own slot
        key with d and the keys every arrived sender l revealed as `revealed[l][d]`. All inputs
        are checked before `acc` is touched.
        """
        receiver = self.address
        members = members_of(senders=senders, receiver=receiver)
        arrived_set = {check_address(a, "arrived sender") for a in arrived}
        if not arrived_set <= set(members) - {receiver}:
            raise MaskError("a sender outside the expected sender set is listed as arrived")
        dropped = [m for m in members if m != receiver and m not in arrived_set]
        revealed = revealed or {}
        extra = set(revealed) - arrived_set
        if extra:
            raise MaskError(f"slot keys revealed by non-senders: {sorted(a.hex() for a in extra)}")
        terms: list[tuple[bytes, bytes, bytes]] = []  # (slot key, owner, peer): checked up front
        for d in dropped:
            own = self.slot_key(d, task=task, epoch=epoch, receiver=receiver, round_id=round_id)
            terms.append((own, d, receiver))
            for sender in sorted(arrived_set):
                key = revealed.get(sender, {}).get(d)
                if not isinstance(key, bytes) or len(key) != KEY_LEN:
                    raise MaskError(
                        f"missing slot key of 0x{sender.hex()} with dropped 0x{d.hex()}"
                    )
                terms.append((key, d, sender))
        self.add_mask(acc, task=task, epoch=epoch, receiver=receiver, round_id=round_id,
                      senders=[m for m in members if m != receiver])  # fmt: skip
        for key, owner, peer in terms:
            add_pair_stream(acc, key, owner=owner, peer=peer, adder=self._adder)
