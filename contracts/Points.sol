// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./DppdlBase.sol";

/// @title Points: batched download requests with escrow, batched upload commitments, refunds.
/// @notice Points are minted once at start; afterwards every change is a transfer between a
///         party's balance, its escrow and the dispute holdings, so per task
///         sum(balance) + sum(escrow) + held == minted after every transaction.
///         A request id packs (task, epoch, receiver index, uploader index): one request per pair
///         per epoch. Commitments store the first 20 bytes of keccak256(blobDigest, keyHash); the
///         full digests are in the UploadCommitted event.
abstract contract Points is DppdlBase {
    // ------------------------------------------------------------------------------------------
    // errors
    // ------------------------------------------------------------------------------------------

    /// @notice The party cannot pay `needed` points from `balance`.
    error PointsInsufficientBalance(address party, uint256 balance, uint256 needed);
    /// @notice Download requests for this epoch closed at `deadline`.
    error DownloadWindowClosed(uint256 taskId, uint256 epoch, uint256 deadline, uint256 currentBlock);
    /// @notice A party cannot buy its own gradients.
    error DownloadFromSelf(uint256 taskId, address party);
    /// @notice A count must be 1..cap where cap = privacyPpm_j * nParams / 1e6.
    error DownloadCountOutOfRange(uint256 taskId, address uploader, uint256 count, uint256 cap);
    /// @notice The receiver already requested from this uploader in this epoch.
    error DownloadDuplicate(uint256 taskId, uint256 epoch, address receiver, address uploader);
    /// @notice Upload commitments for this epoch closed at `deadline`.
    error UploadWindowClosed(uint256 taskId, uint256 epoch, uint256 deadline, uint256 currentBlock);
    /// @notice Only the requested uploader may commit to a request.
    error UploadNotAddressedToYou(uint256 requestId, address uploader, address caller);
    /// @notice The request is not pending (already committed or refunded).
    error UploadNotPending(uint256 requestId, RequestState state);
    /// @notice A request can be committed only in its own epoch.
    error UploadWrongEpoch(uint256 requestId, uint256 requestEpoch, uint256 currentEpoch);
    /// @notice A commitment needs a non-zero blob digest and key hash.
    error UploadEmptyCommitment(uint256 requestId);
    /// @notice Only a pending request can be refunded.
    error RefundNotPending(uint256 requestId, RequestState state);
    /// @notice The uploader may still commit until `uploadDeadline`.
    error RefundTooEarly(uint256 requestId, uint256 uploadDeadline);

    // ------------------------------------------------------------------------------------------
    // events
    // ------------------------------------------------------------------------------------------

    /// @notice `receiver` escrowed `amount` points for `amount` gradient entries from `uploader`.
    event DownloadRequested(
        uint256 indexed taskId,
        uint256 epoch,
        uint256 indexed requestId,
        address indexed receiver,
        address uploader,
        uint256 amount
    );
    /// @notice The uploader committed its blob; the escrow moved to the uploader's balance.
    event UploadCommitted(
        uint256 indexed taskId,
        uint256 indexed requestId,
        address indexed uploader,
        address receiver,
        uint256 amount,
        bytes32 blobDigest,
        bytes32 keyHash
    );
    /// @notice An uncommitted request was refunded; the uploader's missed count is `missedUploads`.
    event RequestRefunded(
        uint256 indexed taskId,
        uint256 indexed requestId,
        address indexed uploader,
        address receiver,
        uint256 amount,
        uint256 missedUploads
    );

    // ------------------------------------------------------------------------------------------
    // external
    // ------------------------------------------------------------------------------------------

    /// @notice Request gradients from several credible uploaders in one transaction, escrowing
    ///         one point per entry.
    /// @param taskId The task (in Training, before the epoch's request deadline).
    /// @param orders (uploader, count) pairs, each count 1..cap_j, one per uploader per epoch.
    /// @return ids The request ids, in the order of `orders`.
    function requestDownloads(uint256 taskId, DownloadOrder[] calldata orders)
        external
        returns (uint256[] memory ids)
    {
        TaskStatus storage st = _training(taskId);
        uint256 epoch = st.epoch;
        {
            uint256 deadline = uint256(st.phaseStart) + _params[taskId].requestWindow;
            if (block.number > deadline) revert DownloadWindowClosed(taskId, epoch, deadline, block.number);
        }
        Member storage me = _credibleMember(taskId, msg.sender);
        uint256 total;
        ids = new uint256[](orders.length);
        for (uint256 k = 0; k < orders.length; ++k) {
            uint256 count;
            (ids[k], count) = _placeOrder(taskId, epoch, me.index, orders[k]);
            total += count;
        }
        uint256 balance = me.balance;
        if (total > balance) revert PointsInsufficientBalance(msg.sender, balance, total);
        me.balance = uint80(balance - total);
        me.escrow += uint80(total);
    }

    /// @notice Commit, in one transaction, the blobs uploaded for requests addressed to you; each
    ///         commitment releases that request's escrow to you.
    /// @param taskId The task (in Training, before the epoch's upload deadline).
    /// @param commits (requestId, blobDigest, keyHash = sha256(fresh key)) for this epoch's requests.
    function commitUploads(uint256 taskId, UploadCommit[] calldata commits) external {
        TaskStatus storage st = _training(taskId);
        uint256 deadline = uint256(st.phaseStart) + _params[taskId].uploadWindow;
        if (block.number > deadline) revert UploadWindowClosed(taskId, st.epoch, deadline, block.number);
        Member storage me = _credibleMember(taskId, msg.sender);
        uint256 total;
        for (uint256 k = 0; k < commits.length; ++k) {
            total += _commitOne(taskId, st.epoch, commits[k]);
        }
        me.balance += uint80(total);
    }

    /// @notice Refund uncommitted requests once their upload deadline passed (anyone may call);
    ///         each refund counts a missed upload against the uploader.
    /// @param requestIds Pending requests, of any task.
    function refundRequests(uint256[] calldata requestIds) external {
        for (uint256 k = 0; k < requestIds.length; ++k) {
            uint256 id = requestIds[k];
            (uint256 taskId, uint256 epoch, address receiver, address uploader) = _decodeRequestId(id);
            Request storage r = _requests[id];
            if (r.state == RequestState.None) revert RequestUnknown(id);
            if (r.state != RequestState.Pending) revert RefundNotPending(id, r.state);
            TaskStatus storage st = _status[taskId];
            uint256 uploadDeadline = uint256(st.phaseStart) + _params[taskId].uploadWindow;
            if (st.state == TaskState.Training && st.epoch == epoch && block.number <= uploadDeadline) {
                revert RefundTooEarly(id, uploadDeadline);
            }
            uint256 amount = r.amount;
            r.state = RequestState.Refunded;
            Member storage m = _members[taskId][receiver];
            m.escrow -= uint80(amount);
            m.balance += uint80(amount);
            uint256 missed = ++_missedUploads[taskId][uploader];
            emit RequestRefunded(taskId, id, uploader, receiver, amount, missed);
        }
    }

    // ------------------------------------------------------------------------------------------
    // views
    // ------------------------------------------------------------------------------------------

    /// @notice Spendable points of `party` in `taskId`.
    function balanceOf(uint256 taskId, address party) external view returns (uint256) {
        return _members[taskId][party].balance;
    }

    /// @notice Points `party` has escrowed in pending requests.
    function escrowOf(uint256 taskId, address party) external view returns (uint256) {
        return _members[taskId][party].escrow;
    }

    /// @notice The most entries anyone may buy from `party` per epoch: privacyPpm * nParams / 1e6.
    function uploadCap(uint256 taskId, address party) external view returns (uint256) {
        return (uint256(_members[taskId][party].privacyPpm) * _params[taskId].nParams) / PPM;
    }

    /// @notice Points accounting of a task: minted == balances + escrow + held at all times.
    function pointTotals(uint256 taskId)
        external
        view
        returns (uint256 minted, uint256 balances, uint256 escrow, uint256 held)
    {
        minted = _status[taskId].minted;
        held = _held[taskId];
        address[] storage roster = _roster[taskId];
        for (uint256 i = 0; i < roster.length; ++i) {
            Member storage m = _members[taskId][roster[i]];
            balances += m.balance;
            escrow += m.escrow;
        }
    }

    /// @notice The id a request of `receiver` to `uploader` in `epoch` has (or would have).
    function requestIdOf(uint256 taskId, uint256 epoch, address receiver, address uploader)
        external
        view
        returns (uint256)
    {
        Member storage r = _members[taskId][receiver];
        Member storage u = _members[taskId][uploader];
        if (r.status == PartyStatus.None) revert PartyNotMember(taskId, receiver);
        if (u.status == PartyStatus.None) revert PartyNotMember(taskId, uploader);
        return _requestId(taskId, epoch, r.index, u.index);
    }

    /// @notice One request (reverts RequestUnknown if it does not exist).
    function getRequest(uint256 requestId) external view returns (RequestView memory) {
        if (_requests[requestId].state == RequestState.None) revert RequestUnknown(requestId);
        return _requestView(requestId);
    }

    /// @notice The requests `receiver` made in `epoch`, in roster order of the uploaders.
    function requestsByReceiver(uint256 taskId, uint256 epoch, address receiver)
        external
        view
        returns (RequestView[] memory)
    {
        return _requestsOf(taskId, epoch, receiver, true);
    }

    /// @notice The requests addressed to `uploader` in `epoch`, in roster order of the receivers.
    function requestsByUploader(uint256 taskId, uint256 epoch, address uploader)
        external
        view
        returns (RequestView[] memory)
    {
        return _requestsOf(taskId, epoch, uploader, false);
    }

    /// @notice The 20-byte commitment the contract stores for (blobDigest, keyHash).
    function commitmentOf(bytes32 blobDigest, bytes32 keyHash) external pure returns (bytes20) {
        return _commitment(blobDigest, keyHash);
    }

    // ------------------------------------------------------------------------------------------
    // internal
    // ------------------------------------------------------------------------------------------

    /// @dev Check and record one (uploader, count) order of msg.sender; returns (id, count).
    function _placeOrder(uint256 taskId, uint256 epoch, uint256 myIndex, DownloadOrder calldata o)
        internal
        returns (uint256 id, uint256 count)
    {
        address uploader = o.uploader;
        count = o.count;
        if (uploader == msg.sender) revert DownloadFromSelf(taskId, uploader);
        Member storage u = _credibleMember(taskId, uploader);
        uint256 cap = (uint256(u.privacyPpm) * _params[taskId].nParams) / PPM;
        if (count == 0 || count > cap) revert DownloadCountOutOfRange(taskId, uploader, count, cap);
        id = _requestId(taskId, epoch, myIndex, u.index);
        Request storage r = _requests[id];
        if (r.state != RequestState.None) revert DownloadDuplicate(taskId, epoch, msg.sender, uploader);
        r.state = RequestState.Pending;
        r.amount = uint48(count);
        emit DownloadRequested(taskId, epoch, id, msg.sender, uploader, count);
    }

    /// @dev Check and record one commitment of msg.sender; returns the released amount.
    function _commitOne(uint256 taskId, uint256 currentEpoch, UploadCommit calldata c)
        internal
        returns (uint256 amount)
    {
        (uint256 tid, uint256 epoch, address receiver, address uploader) = _decodeRequestId(c.requestId);
        Request storage r = _requests[c.requestId];
        if (tid != taskId || r.state == RequestState.None) revert RequestUnknown(c.requestId);
        if (uploader != msg.sender) revert UploadNotAddressedToYou(c.requestId, uploader, msg.sender);
        if (r.state != RequestState.Pending) revert UploadNotPending(c.requestId, r.state);
        if (epoch != currentEpoch) revert UploadWrongEpoch(c.requestId, epoch, currentEpoch);
        if (c.blobDigest == bytes32(0) || c.keyHash == bytes32(0)) revert UploadEmptyCommitment(c.requestId);
        amount = r.amount;
        r.state = RequestState.Committed;
        r.commitBlock = uint40(block.number);
        r.commitment = _commitment(c.blobDigest, c.keyHash);
        _members[taskId][receiver].escrow -= uint80(amount);
        emit UploadCommitted(taskId, c.requestId, msg.sender, receiver, amount, c.blobDigest, c.keyHash);
    }

    function _training(uint256 taskId) internal view returns (TaskStatus storage st) {
        st = _statusOf(taskId);
        if (st.state != TaskState.Training) revert TaskWrongState(taskId, st.state);
    }

    function _requestsOf(uint256 taskId, uint256 epoch, address party, bool asReceiver)
        internal
        view
        returns (RequestView[] memory out)
    {
        Member storage m = _members[taskId][party];
        if (m.status == PartyStatus.None) revert PartyNotMember(taskId, party);
        uint256 n = _roster[taskId].length;
        uint256[] memory ids = new uint256[](n);
        uint256 count;
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = asReceiver ? _requestId(taskId, epoch, m.index, i) : _requestId(taskId, epoch, i, m.index);
            if (_requests[id].state != RequestState.None) ids[count++] = id;
        }
        out = new RequestView[](count);
        for (uint256 k = 0; k < count; ++k) {
            out[k] = _requestView(ids[k]);
        }
    }

    function _requestView(uint256 id) internal view returns (RequestView memory v) {
        Request storage r = _requests[id];
        (v.taskId, v.epoch, v.receiver, v.uploader) = _decodeRequestId(id);
        v.id = id;
        v.state = r.state;
        v.amount = r.amount;
        v.commitBlock = r.commitBlock;
        v.commitment = r.commitment;
    }
}
