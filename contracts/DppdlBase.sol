// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./DppdlTypes.sol";

/// @title Shared storage, errors, events and helpers of the DPPDL concerns.
/// @notice Every concern (lifecycle, benchmarking, points, disputes) extends this one contract so
///         the roster, balances and disputes share storage without cross-contract calls.
abstract contract DppdlBase {
    // ------------------------------------------------------------------------------------------
    // errors
    // ------------------------------------------------------------------------------------------

    /// @notice No task has this id.
    error TaskUnknown(uint256 taskId);
    /// @notice The task is not in a state that allows the call.
    error TaskWrongState(uint256 taskId, TaskState state);
    /// @notice The address is not a credible member of the task (never joined or removed).
    error PartyNotCredible(uint256 taskId, address party);
    /// @notice The address never joined the task.
    error PartyNotMember(uint256 taskId, address party);
    /// @notice The request id does not name an existing request.
    error RequestUnknown(uint256 requestId);

    // ------------------------------------------------------------------------------------------
    // events
    // ------------------------------------------------------------------------------------------

    /// @notice A phase started: epoch 0 is benchmarking, 1..epochs are training epochs.
    event EpochStarted(uint256 indexed taskId, uint256 epoch, uint256 startBlock);
    /// @notice The last epoch closed; the task is over.
    event TaskFinished(uint256 indexed taskId, uint256 block_);

    // ------------------------------------------------------------------------------------------
    // storage
    // ------------------------------------------------------------------------------------------

    /// @notice Number of tasks published; task ids are 1..taskCount.
    uint256 public taskCount;

    mapping(uint256 taskId => TaskConfig) internal _params;
    mapping(uint256 taskId => TaskCore) internal _status;
    mapping(uint256 taskId => address) internal _requester;
    mapping(uint256 taskId => address[]) internal _roster;
    mapping(uint256 taskId => mapping(address party => Member)) internal _members;
    mapping(uint256 taskId => mapping(address party => bytes32)) internal _publicKeys;
    mapping(uint256 taskId => mapping(address party => bytes32)) internal _samples;
    mapping(uint256 taskId => mapping(bytes32 key => bool)) internal _keyTaken;
    /// @dev Bit i set: roster[i] has reports in the current phase (the close visits only those).
    mapping(uint256 taskId => uint256) internal _reportedMask;
    /// @dev Bit i set: the reporter reported roster[i] in that phase (0 = benchmarking).
    mapping(uint256 taskId => mapping(uint256 epoch => mapping(address reporter => uint256))) internal
        _reportBits;
    mapping(uint256 taskId => mapping(address party => uint256)) internal _missedUploads;
    mapping(uint256 taskId => mapping(address party => uint256)) internal _disputesLost;
    /// @dev Keyed by _slotKey(request id): one slot per (task, receiver, uploader, epoch parity).
    mapping(uint256 slotKey => Request) internal _requests;
    /// @dev Copies of disputed or still disputable requests whose slot may be reused, by full id.
    mapping(uint256 requestId => Request) internal _archived;
    /// @dev Points held by open disputes (deposits + disputed payments).
    mapping(uint256 taskId => uint256) internal _held;

    // ------------------------------------------------------------------------------------------
    // internal
    // ------------------------------------------------------------------------------------------

    function _statusOf(uint256 taskId) internal view returns (TaskCore storage st) {
        st = _status[taskId];
        if (st.state == TaskState.None) revert TaskUnknown(taskId);
    }

    /// @dev The task must be benchmarking or training (the phases with epochs).
    function _running(uint256 taskId) internal view returns (TaskCore storage st) {
        st = _statusOf(taskId);
        if (st.state != TaskState.Benchmarking && st.state != TaskState.Training) {
            revert TaskWrongState(taskId, st.state);
        }
    }

    function _credibleMember(uint256 taskId, address party) internal view returns (Member storage m) {
        m = _members[taskId][party];
        if (m.status != PartyStatus.Credible) revert PartyNotCredible(taskId, party);
    }

    /// @dev Last block of the current phase.
    function _phaseDeadline(uint256 taskId, TaskCore storage st) internal view returns (uint256) {
        TaskConfig storage p = _params[taskId];
        return uint256(st.phaseStart) + (st.epoch == 0 ? p.benchmarkWindow : p.epochWindow);
    }

    /// @dev Close the current phase (its reports decide removals) and start the next, or finish.
    function _advance(uint256 taskId, TaskCore storage st) internal {
        _closePhase(taskId, st);
        if (st.epoch >= st.epochs) {
            st.state = TaskState.Finished;
            emit TaskFinished(taskId, block.number);
            return;
        }
        st.state = TaskState.Training;
        st.epoch += 1;
        st.doneCount = 0;
        st.phaseStart = uint40(block.number);
        emit EpochStarted(taskId, st.epoch, block.number);
    }

    /// @dev Settle the closing phase's reports (implemented by the benchmarking concern).
    function _closePhase(uint256 taskId, TaskCore storage st) internal virtual;

    /// @dev Request ids pack (task, epoch, receiver index, uploader index) so no index is stored.
    function _requestId(uint256 taskId, uint256 epoch, uint256 receiverIndex, uint256 uploaderIndex)
        internal
        pure
        returns (uint256)
    {
        return (taskId << 64) | (epoch << 32) | (receiverIndex << 16) | uploaderIndex;
    }

    function _decodeRequestId(uint256 requestId)
        internal
        view
        returns (uint256 taskId, uint256 epoch, address receiver, address uploader)
    {
        taskId = requestId >> 64;
        epoch = (requestId >> 32) & 0xffffffff;
        uint256 r = (requestId >> 16) & 0xffff;
        uint256 u = requestId & 0xffff;
        address[] storage roster = _roster[taskId];
        if (r >= roster.length || u >= roster.length) revert RequestUnknown(requestId);
        receiver = roster[r];
        uploader = roster[u];
    }

    /// @dev roster[i] without reading the array length (the caller checked i < length).
    function _rosterAt(address[] storage roster, uint256 i) internal view returns (address account) {
        assembly ("memory-safe") {
            mstore(0x00, roster.slot)
            account := sload(add(keccak256(0x00, 0x20), i))
        }
    }

    /// @dev The storage key of a request id: the id with its epoch cut to the epoch's parity.
    function _slotKey(uint256 requestId) internal pure returns (uint256) {
        return requestId & ~(uint256(0x7fffffff) << 33);
    }

    /// @dev The stored request `requestId` names (in its slot, else in the archive), if any.
    function _findRequest(uint256 requestId) internal view returns (Request storage r, bool found) {
        r = _requests[_slotKey(requestId)];
        if (r.amount != 0 && uint256(r.epoch) == (requestId >> 32) & 0xffffffff) return (r, true);
        r = _archived[requestId];
        found = r.amount != 0;
    }

    /// @dev The life stage of a stored request (see Request).
    function _stateOf(Request storage r) internal view returns (RequestState) {
        if (r.amount == 0) return RequestState.None;
        uint256 commitBlock = r.commitBlock;
        if (commitBlock == 0) return RequestState.Pending;
        return commitBlock == REFUNDED_BLOCK ? RequestState.Refunded : RequestState.Committed;
    }

    /// @dev The 20-byte commitment stored for (blobDigest, keyHash).
    function _commitment(bytes32 blobDigest, bytes32 keyHash) internal pure returns (bytes20) {
        return bytes20(keccak256(abi.encodePacked(blobDigest, keyHash)));
    }
}
