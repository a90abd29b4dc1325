// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./Points.sol";

/// @title Disputes over committed uploads: deposit, key reveal, vote, settlement.
/// @notice The receiver of a committed request may dispute it within `disputeWindow` blocks of
///         the commitment, depositing ceil(amount * disputeDepositPpm / 1e6) points. Filing also
///         takes the payment back from the uploader (as much of it as the uploader's balance
///         holds) into the task's held balance. The uploader answers by revealing the blob's fresh
///         key, checked as sha256(key) == keyHash. Then the other credible parties (neither
///         receiver nor uploader) vote; a strict majority settles at once:
///         - unanswered by the answer deadline, or majority "invalid": receiver gets deposit and
///           held payment back, the uploader's disputesLost counter grows;
///         - majority "valid": the uploader gets the deposit and the held payment;
///         - no strict majority by the vote deadline: deposit back to the receiver, held payment
///           back to the uploader.
abstract contract Disputes is Points {
    // ------------------------------------------------------------------------------------------
    // errors
    // ------------------------------------------------------------------------------------------

    /// @notice Only committed requests can be disputed.
    error DisputeNotCommitted(uint256 requestId, RequestState state);
    /// @notice Only the request's receiver may dispute it.
    error DisputeNotReceiver(uint256 requestId, address receiver, address caller);
    /// @notice The dispute window after the commitment has closed.
    error DisputeWindowClosed(uint256 requestId, uint256 deadline, uint256 currentBlock);
    /// @notice (blobDigest, keyHash) do not match the stored commitment.
    error DisputeCommitmentMismatch(uint256 requestId, bytes20 stored, bytes20 given);
    /// @notice The dispute is not in the state the call needs.
    error DisputeWrongState(uint256 requestId, DisputeState state);
    /// @notice Only the request's uploader may answer.
    error DisputeNotUploader(uint256 requestId, address uploader, address caller);
    /// @notice The answer window has closed.
    error DisputeAnswerWindowClosed(uint256 requestId, uint256 deadline, uint256 currentBlock);
    /// @notice sha256(freshKey) differs from the committed key hash.
    error DisputeKeyMismatch(uint256 requestId, bytes32 keyHash, bytes32 revealedHash);
    /// @notice The vote window has closed.
    error DisputeVoteClosed(uint256 requestId, uint256 deadline, uint256 currentBlock);
    /// @notice Voters are the task's credible parties other than the receiver and the uploader.
    error DisputeVoterIneligible(uint256 requestId, address voter);
    /// @notice One vote per voter per dispute.
    error DisputeAlreadyVoted(uint256 requestId, address voter);
    /// @notice Nothing to settle yet: the current window ends at `deadline`.
    error DisputeNotSettleable(uint256 requestId, DisputeState state, uint256 deadline);

    // ------------------------------------------------------------------------------------------
    // events
    // ------------------------------------------------------------------------------------------

    /// @notice The receiver disputed a committed request; `deposit + heldPayment` are now held.
    event DisputeFiled(
        uint256 indexed taskId,
        uint256 indexed requestId,
        address indexed receiver,
        address uploader,
        uint256 deposit,
        uint256 heldPayment
    );
    /// @notice The uploader revealed the blob's fresh key; `voters` parties may now vote.
    event DisputeAnswered(uint256 indexed taskId, uint256 indexed requestId, bytes32 freshKey, uint256 voters);
    /// @notice A credible third party voted on whether the blob is valid.
    event DisputeVoted(uint256 indexed taskId, uint256 indexed requestId, address indexed voter, bool blobValid);
    /// @notice The dispute ended; the held points went to the receiver and the uploader.
    event DisputeSettled(
        uint256 indexed taskId,
        uint256 indexed requestId,
        DisputeOutcome outcome,
        uint256 toReceiver,
        uint256 toUploader
    );

    // ------------------------------------------------------------------------------------------
    // storage
    // ------------------------------------------------------------------------------------------

    mapping(uint256 requestId => Dispute) internal _disputes;
    mapping(uint256 requestId => bytes32) internal _disputeKeyHash;
    mapping(uint256 requestId => bytes32) internal _revealedKey;
    mapping(uint256 requestId => mapping(address voter => bool)) internal _voted;

    // ------------------------------------------------------------------------------------------
    // external
    // ------------------------------------------------------------------------------------------

    /// @notice Dispute a committed request whose blob failed to verify, with a points deposit.
    /// @param requestId The committed request (yours as receiver).
    /// @param blobDigest The blob digest from the UploadCommitted event.
    /// @param keyHash The key hash from the UploadCommitted event.
    function fileDispute(uint256 requestId, bytes32 blobDigest, bytes32 keyHash) external {
        (uint256 taskId,, address receiver, address uploader) = _decodeRequestId(requestId);
        Request storage r = _checkFiling(requestId, taskId, receiver, blobDigest, keyHash);
        Dispute storage d = _disputes[requestId];
        if (d.state != DisputeState.None) revert DisputeWrongState(requestId, d.state);
        (uint256 deposit, uint256 heldPayment) = _hold(taskId, receiver, uploader, r.amount);
        Request storage copy = _archived[requestId];
        if (copy.amount == 0) _archived[requestId] = r; // viewable after its slot is reused
        d.state = DisputeState.Filed;
        d.filedBlock = uint40(block.number);
        d.deposit = uint48(deposit);
        d.heldPayment = uint48(heldPayment);
        _disputeKeyHash[requestId] = keyHash;
        emit DisputeFiled(taskId, requestId, receiver, uploader, deposit, heldPayment);
    }

    /// @notice Answer a dispute by revealing the blob's fresh symmetric key.
    /// @param requestId The disputed request (yours as uploader).
    /// @param freshKey The 32-byte layer-2 key; sha256(freshKey) must equal the committed hash.
    function answerDispute(uint256 requestId, bytes32 freshKey) external {
        (uint256 taskId,, address receiver, address uploader) = _decodeRequestId(requestId);
        Dispute storage d = _disputes[requestId];
        if (d.state != DisputeState.Filed) revert DisputeWrongState(requestId, d.state);
        if (msg.sender != uploader) revert DisputeNotUploader(requestId, uploader, msg.sender);
        uint256 deadline = uint256(d.filedBlock) + _params[taskId].answerWindow;
        if (block.number > deadline) revert DisputeAnswerWindowClosed(requestId, deadline, block.number);
        bytes32 expected = _disputeKeyHash[requestId];
        bytes32 actual = sha256(abi.encodePacked(freshKey));
        if (actual != expected) revert DisputeKeyMismatch(requestId, expected, actual);
        uint256 voters = _status[taskId].credible;
        if (_members[taskId][receiver].status == PartyStatus.Credible) voters -= 1;
        if (_members[taskId][uploader].status == PartyStatus.Credible) voters -= 1;
        d.state = DisputeState.Answered;
        d.answeredBlock = uint40(block.number);
        d.voters = uint16(voters);
        _revealedKey[requestId] = freshKey;
        emit DisputeAnswered(taskId, requestId, freshKey, voters);
    }

    /// @notice Vote on an answered dispute: is the blob valid under the revealed key?
    /// @dev A strict majority of the voters fixed at answer time settles the dispute at once.
    /// @param requestId The disputed request.
    /// @param blobValid True if the blob opens and is well formed under the revealed key.
    function voteDispute(uint256 requestId, bool blobValid) external {
        (uint256 taskId,, address receiver, address uploader) = _decodeRequestId(requestId);
        Dispute storage d = _disputes[requestId];
        if (d.state != DisputeState.Answered) revert DisputeWrongState(requestId, d.state);
        uint256 deadline = uint256(d.answeredBlock) + _params[taskId].voteWindow;
        if (block.number > deadline) revert DisputeVoteClosed(requestId, deadline, block.number);
        if (
            msg.sender == receiver || msg.sender == uploader
                || _members[taskId][msg.sender].status != PartyStatus.Credible
        ) revert DisputeVoterIneligible(requestId, msg.sender);
        if (_voted[requestId][msg.sender]) revert DisputeAlreadyVoted(requestId, msg.sender);
        _voted[requestId][msg.sender] = true;
        if (blobValid) d.validVotes += 1;
        else d.invalidVotes += 1;
        emit DisputeVoted(taskId, requestId, msg.sender, blobValid);
        if (uint256(d.validVotes) * 2 > d.voters) {
            _settle(taskId, requestId, d, DisputeOutcome.UploaderWon, receiver, uploader);
        } else if (uint256(d.invalidVotes) * 2 > d.voters) {
            _settle(taskId, requestId, d, DisputeOutcome.ReceiverWon, receiver, uploader);
        }
    }

    /// @notice Settle a dispute whose answer or vote window has closed (anyone may call).
    /// @param requestId The disputed request.
    function settleDispute(uint256 requestId) external {
        (uint256 taskId,, address receiver, address uploader) = _decodeRequestId(requestId);
        Dispute storage d = _disputes[requestId];
        TaskConfig storage p = _params[taskId];
        if (d.state == DisputeState.Filed) {
            uint256 deadline = uint256(d.filedBlock) + p.answerWindow;
            if (block.number <= deadline) revert DisputeNotSettleable(requestId, d.state, deadline);
            _settle(taskId, requestId, d, DisputeOutcome.Unanswered, receiver, uploader);
        } else if (d.state == DisputeState.Answered) {
            uint256 deadline = uint256(d.answeredBlock) + p.voteWindow;
            if (block.number <= deadline) revert DisputeNotSettleable(requestId, d.state, deadline);
            _settle(taskId, requestId, d, DisputeOutcome.NoMajority, receiver, uploader);
        } else {
            revert DisputeWrongState(requestId, d.state);
        }
    }

    // ------------------------------------------------------------------------------------------
    // views
    // ------------------------------------------------------------------------------------------

    /// @notice A dispute with the committed key hash and the revealed key (zero until answered).
    function getDispute(uint256 requestId)
        external
        view
        returns (Dispute memory dispute, bytes32 keyHash, bytes32 revealedKey)
    {
        return (_disputes[requestId], _disputeKeyHash[requestId], _revealedKey[requestId]);
    }

    /// @notice Whether `voter` voted on the dispute of `requestId`.
    function hasVoted(uint256 requestId, address voter) external view returns (bool) {
        return _voted[requestId][voter];
    }

    /// @notice Points held by open disputes of `taskId` (deposits plus disputed payments).
    function heldOf(uint256 taskId) external view returns (uint256) {
        return _held[taskId];
    }

    // ------------------------------------------------------------------------------------------
    // internal
    // ------------------------------------------------------------------------------------------

    function _checkFiling(uint256 requestId, uint256 taskId, address receiver, bytes32 blobDigest, bytes32 keyHash)
        internal
        view
        returns (Request storage r)
    {
        (r,) = _findRequest(requestId);
        RequestState state = _stateOf(r);
        if (state != RequestState.Committed) revert DisputeNotCommitted(requestId, state);
        if (msg.sender != receiver) revert DisputeNotReceiver(requestId, receiver, msg.sender);
        uint256 deadline = uint256(r.commitBlock) + _params[taskId].disputeWindow;
        if (block.number > deadline) revert DisputeWindowClosed(requestId, deadline, block.number);
        bytes20 given = _commitment(blobDigest, keyHash);
        if (given != r.commitment) revert DisputeCommitmentMismatch(requestId, r.commitment, given);
    }

    /// @dev Move the receiver's deposit and (up to its balance) the uploader's payment to held.
    function _hold(uint256 taskId, address receiver, address uploader, uint256 amount)
        internal
        returns (uint256 deposit, uint256 heldPayment)
    {
        deposit = (amount * _params[taskId].disputeDepositPpm + PPM - 1) / PPM;
        Member storage rm = _members[taskId][receiver];
        if (rm.balance < deposit) revert PointsInsufficientBalance(receiver, rm.balance, deposit);
        Member storage um = _members[taskId][uploader];
        heldPayment = um.balance < amount ? um.balance : amount;
        rm.balance -= uint80(deposit);
        um.balance -= uint80(heldPayment);
        _held[taskId] += deposit + heldPayment;
    }

    function _settle(
        uint256 taskId,
        uint256 requestId,
        Dispute storage d,
        DisputeOutcome outcome,
        address receiver,
        address uploader
    ) internal {
        uint256 deposit = d.deposit;
        uint256 payment = d.heldPayment;
        uint256 toReceiver;
        uint256 toUploader;
        if (outcome == DisputeOutcome.UploaderWon) {
            toUploader = deposit + payment;
        } else if (outcome == DisputeOutcome.NoMajority) {
            toReceiver = deposit;
            toUploader = payment;
        } else {
            toReceiver = deposit + payment;
            _disputesLost[taskId][uploader] += 1;
        }
        _members[taskId][receiver].balance += uint80(toReceiver);
        _members[taskId][uploader].balance += uint80(toUploader);
        _held[taskId] -= deposit + payment;
        d.state = DisputeState.Settled;
        d.outcome = outcome;
        emit DisputeSettled(taskId, requestId, outcome, toReceiver, toUploader);
    }
}
