// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./DppdlBase.sol";

/// @title Dropout recovery: a channel for the digests of revealed per-slot mask keys.
/// @notice When an uploader never commits, its receiver is refunded and the receiver can only
///         unmask the others' sum once each sender that did upload reveals the slot keys it
///         shares with the dropped one (never a long-term seed). The keys travel off-chain in a
///         content-addressed blob; the chain records who revealed what for whom.
abstract contract Recovery is DppdlBase {
    // ------------------------------------------------------------------------------------------
    // errors
    // ------------------------------------------------------------------------------------------

    /// @notice The revealed blob's digest is zero.
    error RevealEmpty(uint256 taskId, address receiver);
    /// @notice The sender has no committed upload to `receiver` in this epoch.
    error RevealNotASender(uint256 taskId, uint256 epoch, address sender, address receiver);
    /// @notice Uploads may still arrive: nobody has dropped out before the upload deadline.
    error RevealTooEarly(uint256 taskId, uint256 uploadDeadline, uint256 currentBlock);

    // ------------------------------------------------------------------------------------------
    // events
    // ------------------------------------------------------------------------------------------

    /// @notice `sender` revealed, for `receiver` in `epoch`, the blob of slot keys with `digest`.
    event MaskKeysRevealed(
        uint256 indexed taskId, uint256 epoch, address indexed sender, address indexed receiver, bytes32 digest
    );

    // ------------------------------------------------------------------------------------------
    // external
    // ------------------------------------------------------------------------------------------

    /// @notice Publish the digest of your slot keys with senders to `receiver` that never uploaded
    ///         this epoch, so `receiver` can open the sum of those who did.
    /// @param taskId The task (training).
    /// @param receiver A party you committed an upload to in the current epoch.
    /// @param digest sha2-256 digest of the off-chain blob holding the revealed slot keys.
    function revealMaskKeys(uint256 taskId, address receiver, bytes32 digest) external {
        TaskCore storage st = _running(taskId);
        Member storage me = _credibleMember(taskId, msg.sender);
        if (digest == bytes32(0)) revert RevealEmpty(taskId, receiver);
        Member storage r = _members[taskId][receiver];
        if (r.status == PartyStatus.None) revert PartyNotMember(taskId, receiver);
        uint256 id = _requestId(taskId, st.epoch, r.index, me.index);
        (Request storage req,) = _findRequest(id);
        if (_stateOf(req) != RequestState.Committed) {
            revert RevealNotASender(taskId, st.epoch, msg.sender, receiver);
        }
        uint256 uploadDeadline = uint256(st.phaseStart) + st.uploadWindow;
        if (block.number <= uploadDeadline) revert RevealTooEarly(taskId, uploadDeadline, block.number);
        emit MaskKeysRevealed(taskId, st.epoch, msg.sender, receiver, digest);
    }
}
