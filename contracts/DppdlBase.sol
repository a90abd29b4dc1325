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

    mapping(uint256 taskId => TaskParams) internal _params;
    mapping(uint256 taskId => TaskStatus) internal _status;
    mapping(uint256 taskId => address) internal _requester;
    mapping(uint256 taskId => address[]) internal _roster;
    mapping(uint256 taskId => mapping(address party => Member)) internal _members;
    mapping(uint256 taskId => mapping(address party => bytes32)) internal _publicKeys;
    mapping(uint256 taskId => mapping(address party => bytes32)) internal _samples;
    mapping(uint256 taskId => mapping(bytes32 key => bool)) internal _keyTaken;
    /// @dev Bit i set: the reporter reported roster[i] in that phase (0 = benchmarking).
    mapping(uint256 taskId => mapping(uint256 epoch => mapping(address reporter => uint256))) internal
        _reportBits;
    mapping(uint256 taskId => mapping(address party => uint256)) internal _missedUploads;
    mapping(uint256 taskId => mapping(address party => uint256)) internal _disputesLost;
    mapping(uint256 requestId => Request) internal _requests;
    /// @dev Points held by open disputes (deposits + disputed payments).
    mapping(uint256 taskId => uint256) internal _held;

    // ------------------------------------------------------------------------------------------
    // internal
    // ------------------------------------------------------------------------------------------

    function _statusOf(uint256 taskId) internal view returns (TaskStatus storage st) {
        st = _status[taskId];
        if (st.state == TaskState.None) revert TaskUnknown(taskId);
    }

    /// @dev The task must be benchmarking or training (the phases with epochs).
    function _running(uint256 taskId) internal view returns (TaskStatus storage st) {
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
    function _phaseDeadline(uint256 taskId, TaskStatus storage st) internal view returns (uint256) {
        TaskParams storage p = _params[taskId];
        return uint256(st.phaseStart) + (st.epoch == 0 ? p.benchmarkWindow : p.epochWindow);
    }

    /// @dev Close the current phase (its reports decide removals) and start the next, or finish.
    function _advance(uint256 taskId, TaskStatus storage st) internal {
        _closePhase(taskId, st);
        if (st.epoch >= _params[taskId].epochs) {
            st.state = TaskState.Finished;
            emit TaskFinished(taskId, block.number);
            return;
        }
        st.state = TaskState.Training;
        st.epoch += 1;
        st.doneCount = 0;
        st.phaseStart = uint64(block.number);
        emit EpochStarted(taskId, st.epoch, block.number);
    }

    /// @dev Settle the closing phase's reports (implemented by the benchmarking concern).
    function _closePhase(uint256 taskId, TaskStatus storage st) internal virtual;

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

    /// @dev The 20-byte commitment stored for (blobDigest, keyHash).
    function _commitment(bytes32 blobDigest, bytes32 keyHash) internal pure returns (bytes20) {
        return bytes20(keccak256(abi.encodePacked(blobDigest, keyHash)));
    }
}
