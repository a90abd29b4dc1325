// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./Benchmarking.sol";

/// @title Task lifecycle: Published -> Joining -> Benchmarking -> Training(epoch) -> Finished.
/// @notice A requester publishes; parties join with their init transaction; the join that fills
///         the roster starts the task (or anyone starts it after the join deadline with >= 3
///         parties) and mints p_i = privacyPpm_i * nParams * (n - 1) / 1e6 points to each party.
///         A phase (benchmarking = epoch 0, then epochs 1..E) closes automatically in the
///         `signalDone` transaction that makes every credible party done, or by anyone calling
///         `advanceEpoch` once all are done or the phase deadline has passed.
abstract contract TaskLifecycle is Benchmarking {
    // ------------------------------------------------------------------------------------------
    // errors
    // ------------------------------------------------------------------------------------------

    /// @notice rosterSize must be 3..256, epochs >= 1, nParams 1..2^40.
    error TaskInvalidShape(uint256 rosterSize, uint256 epochs, uint256 nParams);
    /// @notice The join deadline must lie in the future.
    error TaskInvalidJoinDeadline(uint256 joinDeadline, uint256 currentBlock);
    /// @notice Windows must be > 0 with requestWindow <= uploadWindow <= epochWindow.
    error TaskInvalidWindows(uint256 benchmarkWindow, uint256 requestWindow, uint256 uploadWindow, uint256 epochWindow);
    /// @notice Dispute windows must be > 0 and the deposit 1..1e6 ppm; the threshold <= 1e6 ppm.
    error TaskInvalidDisputeRules(uint256 disputeWindow, uint256 answerWindow, uint256 voteWindow, uint256 depositPpm);
    /// @notice Joining closed at the join deadline.
    error JoinDeadlinePassed(uint256 taskId, uint256 joinDeadline, uint256 currentBlock);
    /// @notice One join per address per task.
    error JoinAlreadyJoined(uint256 taskId, address party);
    /// @notice Another party of this task already joined with this public key.
    error JoinKeyTaken(uint256 taskId, bytes32 publicKey);
    /// @notice The zero public key is not a usable X25519 key.
    error JoinPublicKeyInvalid(uint256 taskId, bytes32 publicKey);
    /// @notice The privacy level must be 1..1e6 parts per million.
    error JoinPrivacyOutOfRange(uint256 taskId, uint256 privacyPpm);
    /// @notice The task can start only with a full roster, or after the join deadline with >= 3.
    error StartNotReady(uint256 taskId, uint256 joined, uint256 rosterSize, uint256 joinDeadline);
    /// @notice Only the requester may cancel.
    error CancelNotRequester(uint256 taskId, address caller, address requester);
    /// @notice The party already signalled done for this phase.
    error EpochAlreadyDone(uint256 taskId, uint256 epoch, address party);
    /// @notice The phase is still open: not every credible party is done and the deadline is ahead.
    error EpochNotOver(uint256 taskId, uint256 epoch, uint256 deadline, uint256 done, uint256 credible);

    // ------------------------------------------------------------------------------------------
    // events
    // ------------------------------------------------------------------------------------------

    /// @notice A task was published (state Published; the first join moves it to Joining).
    event TaskPublished(
        uint256 indexed taskId,
        address indexed requester,
        bytes32 specDigest,
        uint256 rosterSize,
        uint256 epochs,
        uint256 nParams,
        uint256 joinDeadline
    );
    /// @notice A party sent its init transaction.
    event PartyJoined(
        uint256 indexed taskId,
        address indexed party,
        uint256 index,
        bytes32 publicKey,
        uint256 privacyPpm,
        bytes32 samplesDigest
    );
    /// @notice Initial points were minted to a party at start.
    event PointsMinted(uint256 indexed taskId, address indexed party, uint256 amount);
    /// @notice The task started with `parties` parties and `minted` points in total.
    event TaskStarted(uint256 indexed taskId, uint256 parties, uint256 minted);
    /// @notice The requester cancelled the task before it started.
    event TaskCancelled(uint256 indexed taskId);
    /// @notice `party` signalled done for `epoch`; `done` credible parties are done.
    event EpochDone(uint256 indexed taskId, uint256 epoch, address indexed party, uint256 done);

    // ------------------------------------------------------------------------------------------
    // external
    // ------------------------------------------------------------------------------------------

    /// @notice Publish a task; the sender is its requester.
    /// @param params Spec digest, roster size, epochs, |w|, threshold, deadlines and windows.
    /// @return taskId The new task's id (1, 2, ...).
    function publishTask(TaskParams calldata params) external returns (uint256 taskId) {
        _validate(params);
        taskId = ++taskCount;
        _params[taskId] = TaskConfig({
            specDigest: params.specDigest,
            nParams: params.nParams,
            rosterSize: params.rosterSize,
            epochs: params.epochs,
            requestWindow: params.requestWindow,
            uploadWindow: params.uploadWindow,
            epochWindow: params.epochWindow,
            disputeWindow: params.disputeWindow,
            benchmarkWindow: params.benchmarkWindow,
            joinDeadline: params.joinDeadline,
            credibilityThresholdPpm: params.credibilityThresholdPpm,
            answerWindow: params.answerWindow,
            voteWindow: params.voteWindow,
            disputeDepositPpm: params.disputeDepositPpm
        });
        _requester[taskId] = msg.sender;
        TaskCore storage st = _status[taskId];
        st.state = TaskState.Published;
        st.epochs = params.epochs;
        st.uploadWindow = params.uploadWindow;
        emit TaskPublished(
            taskId, msg.sender, params.specDigest, params.rosterSize, params.epochs, params.nParams, params.joinDeadline
        );
    }

    /// @notice The init transaction: join a task with an X25519 key, a privacy level and samples.
    /// @dev The join that fills the roster also starts the task (and pays for minting).
    /// @param taskId The task.
    /// @param publicKey 32-byte X25519 public key, unique within the task.
    /// @param privacyPpm Declared privacy level u_i/|D_i| in parts per million (1..1e6).
    /// @param samplesDigest Digest of the party's DP-GAN sample blob.
    function join(uint256 taskId, bytes32 publicKey, uint256 privacyPpm, bytes32 samplesDigest) external {
        TaskCore storage st = _statusOf(taskId);
        if (st.state != TaskState.Published && st.state != TaskState.Joining) {
            revert TaskWrongState(taskId, st.state);
        }
        TaskConfig storage p = _params[taskId];
        if (block.number > p.joinDeadline) revert JoinDeadlinePassed(taskId, p.joinDeadline, block.number);
        if (_members[taskId][msg.sender].status != PartyStatus.None) revert JoinAlreadyJoined(taskId, msg.sender);
        if (publicKey == bytes32(0)) revert JoinPublicKeyInvalid(taskId, publicKey);
        if (_keyTaken[taskId][publicKey]) revert JoinKeyTaken(taskId, publicKey);
        if (privacyPpm == 0 || privacyPpm > PPM) revert JoinPrivacyOutOfRange(taskId, privacyPpm);
        uint256 index = st.joined; // < rosterSize: the join that filled the roster started the task
        _keyTaken[taskId][publicKey] = true;
        _publicKeys[taskId][msg.sender] = publicKey;
        _samples[taskId][msg.sender] = samplesDigest;
        _roster[taskId].push(msg.sender);
        Member storage m = _members[taskId][msg.sender];
        m.status = PartyStatus.Credible;
        m.index = uint8(index);
        m.privacyPpm = uint32(privacyPpm);
        st.joined = uint16(index + 1);
        st.state = TaskState.Joining;
        emit PartyJoined(taskId, msg.sender, index, publicKey, privacyPpm, samplesDigest);
        if (index + 1 == p.rosterSize) _start(taskId, st, p);
    }

    /// @notice Start a task after its join deadline with at least 3 parties (anyone may call).
    /// @param taskId The task.
    function startTask(uint256 taskId) external {
        TaskCore storage st = _statusOf(taskId);
        if (st.state != TaskState.Joining && st.state != TaskState.Published) {
            revert TaskWrongState(taskId, st.state);
        }
        TaskConfig storage p = _params[taskId];
        if (block.number <= p.joinDeadline || st.joined < MIN_PARTIES) {
            revert StartNotReady(taskId, st.joined, p.rosterSize, p.joinDeadline);
        }
        _start(taskId, st, p);
    }

    /// @notice Cancel a task before it starts (requester only). No points exist yet.
    /// @param taskId The task.
    function cancelTask(uint256 taskId) external {
        TaskCore storage st = _statusOf(taskId);
        if (st.state != TaskState.Published && st.state != TaskState.Joining) {
            revert TaskWrongState(taskId, st.state);
        }
        address requester = _requester[taskId];
        if (msg.sender != requester) revert CancelNotRequester(taskId, msg.sender, requester);
        st.state = TaskState.Cancelled;
        emit TaskCancelled(taskId);
    }

    /// @notice Signal that you finished the current phase, reporting low-quality parties at once.
    /// @dev The signal that makes every credible party done advances the phase in the same tx.
    /// @param taskId The task.
    /// @param reports Parties to report (may be empty); same rules as `report`.
    function signalDone(uint256 taskId, address[] calldata reports) external {
        TaskCore storage st = _running(taskId);
        Member storage m = _credibleMember(taskId, msg.sender);
        uint32 mark = uint32(st.epoch) + 1;
        if (m.doneMark == mark) revert EpochAlreadyDone(taskId, st.epoch, msg.sender);
        m.doneMark = mark;
        st.doneCount += 1;
        emit EpochDone(taskId, st.epoch, msg.sender, st.doneCount);
        if (reports.length != 0) _report(taskId, reports);
        if (st.doneCount >= st.credible) _advance(taskId, st);
    }

    /// @notice Close the current phase once every credible party is done or its deadline passed.
    /// @param taskId The task.
    function advanceEpoch(uint256 taskId) external {
        TaskCore storage st = _running(taskId);
        uint256 deadline = _phaseDeadline(taskId, st);
        if (st.doneCount < st.credible && block.number <= deadline) {
            revert EpochNotOver(taskId, st.epoch, deadline, st.doneCount, st.credible);
        }
        _advance(taskId, st);
    }

    // ------------------------------------------------------------------------------------------
    // views
    // ------------------------------------------------------------------------------------------

    /// @notice Everything about a task: parameters, state, requester and the current deadlines.
    /// @return params As published.
    /// @return status State, current epoch, joined, credible, done count, phase start, minted.
    /// @return requester The publisher.
    /// @return phaseDeadline Last block of the current phase (benchmarking or epoch).
    /// @return requestDeadline Last block for download requests in the current epoch.
    /// @return uploadDeadline Last block for upload commitments in the current epoch.
    function getTask(uint256 taskId)
        external
        view
        returns (
            TaskParams memory params,
            TaskStatus memory status,
            address requester,
            uint256 phaseDeadline,
            uint256 requestDeadline,
            uint256 uploadDeadline
        )
    {
        TaskCore storage st = _statusOf(taskId);
        params = _paramsView(_params[taskId]);
        status = TaskStatus({
            state: st.state,
            epoch: st.epoch,
            joined: st.joined,
            credible: st.credible,
            doneCount: st.doneCount,
            phaseStart: st.phaseStart,
            minted: st.minted
        });
        requester = _requester[taskId];
        phaseDeadline = _phaseDeadline(taskId, st);
        requestDeadline = uint256(st.phaseStart) + params.requestWindow;
        uploadDeadline = uint256(st.phaseStart) + params.uploadWindow;
    }

    /// @notice The roster in join order with keys, privacy levels, digests, standing and points.
    function getRoster(uint256 taskId) external view returns (PartyView[] memory out) {
        address[] storage roster = _roster[taskId];
        out = new PartyView[](roster.length);
        for (uint256 i = 0; i < roster.length; ++i) {
            out[i] = _partyView(taskId, roster[i]);
        }
    }

    /// @notice One roster entry (reverts PartyNotMember for an address that never joined).
    function getParty(uint256 taskId, address party) external view returns (PartyView memory) {
        if (_members[taskId][party].status == PartyStatus.None) revert PartyNotMember(taskId, party);
        return _partyView(taskId, party);
    }

    // ------------------------------------------------------------------------------------------
    // internal
    // ------------------------------------------------------------------------------------------

    function _validate(TaskParams calldata p) internal view {
        if (
            p.rosterSize < MIN_PARTIES || p.rosterSize > MAX_PARTIES || p.epochs == 0 || p.nParams == 0
                || p.nParams > MAX_PARAMS
        ) revert TaskInvalidShape(p.rosterSize, p.epochs, p.nParams);
        if (p.joinDeadline <= block.number) revert TaskInvalidJoinDeadline(p.joinDeadline, block.number);
        if (
            p.benchmarkWindow == 0 || p.requestWindow == 0 || p.requestWindow > p.uploadWindow
                || p.uploadWindow > p.epochWindow
        ) revert TaskInvalidWindows(p.benchmarkWindow, p.requestWindow, p.uploadWindow, p.epochWindow);
        if (
            p.disputeWindow == 0 || p.answerWindow == 0 || p.voteWindow == 0 || p.disputeDepositPpm == 0
                || p.disputeDepositPpm > PPM || p.credibilityThresholdPpm > PPM
        ) revert TaskInvalidDisputeRules(p.disputeWindow, p.answerWindow, p.voteWindow, p.disputeDepositPpm);
    }

    /// @dev Mint p_i = privacyPpm_i * nParams * (n - 1) / 1e6 (floor) and open benchmarking.
    function _start(uint256 taskId, TaskCore storage st, TaskConfig storage p) internal {
        address[] storage roster = _roster[taskId];
        uint256 n = roster.length;
        uint256 perPpm = uint256(p.nParams) * (n - 1);
        uint256 minted;
        for (uint256 i = 0; i < n; ++i) {
            Member storage m = _members[taskId][roster[i]];
            uint256 amount = (uint256(m.privacyPpm) * perPpm) / PPM;
            m.balance = uint80(amount);
            minted += amount;
            emit PointsMinted(taskId, roster[i], amount);
        }
        st.state = TaskState.Benchmarking;
        st.credible = uint16(n);
        st.epoch = 0;
        st.phaseStart = uint40(block.number);
        st.minted = uint56(minted);
        emit TaskStarted(taskId, n, minted);
        emit EpochStarted(taskId, 0, block.number);
    }

    function _paramsView(TaskConfig storage c) internal view returns (TaskParams memory p) {
        p.specDigest = c.specDigest;
        p.nParams = c.nParams;
        p.rosterSize = c.rosterSize;
        p.epochs = c.epochs;
        p.benchmarkWindow = c.benchmarkWindow;
        p.requestWindow = c.requestWindow;
        p.uploadWindow = c.uploadWindow;
        p.epochWindow = c.epochWindow;
        p.joinDeadline = c.joinDeadline;
        p.credibilityThresholdPpm = c.credibilityThresholdPpm;
        p.disputeWindow = c.disputeWindow;
        p.answerWindow = c.answerWindow;
        p.voteWindow = c.voteWindow;
        p.disputeDepositPpm = c.disputeDepositPpm;
    }

    function _partyView(uint256 taskId, address party) internal view returns (PartyView memory v) {
        Member storage m = _members[taskId][party];
        v.account = party;
        v.index = m.index;
        v.status = m.status;
        v.publicKey = _publicKeys[taskId][party];
        v.samplesDigest = _samples[taskId][party];
        v.privacyPpm = m.privacyPpm;
        v.balance = m.balance;
        v.escrow = m.escrow;
        v.reports = m.reports;
        v.missedUploads = _missedUploads[taskId][party];
        v.disputesLost = _disputesLost[taskId][party];
        v.doneMark = m.doneMark;
    }
}
