// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./DppdlBase.sol";

/// @title Points: batched download requests with escrow, batched upload commitments, refunds.
/// @notice Points are minted once at start; afterwards every change is a transfer between a
///         party's balance, its escrow and the dispute holdings, so per task
///         sum(balance) + sum(escrow) + held == minted after every transaction.
///         A request id packs (task, epoch, receiver index, uploader index): one request per pair
///         per epoch. Its storage slot is shared by the pair's requests of every other epoch, so a
///         new request in epoch e replaces the pair's request of epoch e - 2 (or earlier): a still
///         pending one is refunded on the way (a missed upload), a committed one still inside its
///         dispute window is archived. Views therefore show a request until its slot is reused, and
///         disputed or disputable requests for good. Commitments store the first 20 bytes of
///         keccak256(blobDigest, keyHash); the full digests are in the UploadCommitted event.
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
        TaskCore storage st = _training(taskId);
        uint256 epoch = st.epoch;
        {
            uint256 deadline = uint256(st.phaseStart) + _params[taskId].requestWindow;
            if (block.number > deadline) revert DownloadWindowClosed(taskId, epoch, deadline, block.number);
        }
        Member storage me = _credibleMember(taskId, msg.sender);
        uint256 total;
        uint256 refunded; // stale pending requests of reused slots, refunded on the way
        (ids, total, refunded) = _placeOrders(taskId, epoch, me.index, orders);
        uint256 balance = uint256(me.balance) + refunded;
        if (total > balance) revert PointsInsufficientBalance(msg.sender, balance, total);
        me.balance = uint80(balance - total);
        me.escrow = uint80(uint256(me.escrow) + total - refunded);
    }

    /// @notice Commit, in one transaction, the blobs uploaded for requests addressed to you; each
    ///         commitment releases that request's escrow to you.
    /// @param taskId The task (in Training, before the epoch's upload deadline).
    /// @param commits (requestId, blobDigest, keyHash = sha256(fresh key)) for this epoch's requests.
    function commitUploads(uint256 taskId, UploadCommit[] calldata commits) external {
        TaskCore storage st = _training(taskId);
        uint256 epoch = st.epoch;
        uint256 deadline = uint256(st.phaseStart) + st.uploadWindow;
        if (block.number > deadline) revert UploadWindowClosed(taskId, epoch, deadline, block.number);
        Member storage me = _credibleMember(taskId, msg.sender);
        uint256 myIndex = me.index;
        address[] storage roster = _roster[taskId];
        uint256 joined = st.joined; // == roster.length, from the slot already read
        uint256 total;
        for (uint256 k = 0; k < commits.length; ++k) {
            total += _commitOne(taskId, epoch, myIndex | (joined << 16), roster, commits[k]);
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
            (Request storage r, bool found) = _findRequest(id);
            if (!found) revert RequestUnknown(id);
            RequestState state = _stateOf(r);
            if (state != RequestState.Pending) revert RefundNotPending(id, state);
            TaskCore storage st = _status[taskId];
            uint256 uploadDeadline = uint256(st.phaseStart) + st.uploadWindow;
            if (st.state == TaskState.Training && st.epoch == epoch && block.number <= uploadDeadline) {
                revert RefundTooEarly(id, uploadDeadline);
            }
            uint256 amount = r.amount;
            r.commitBlock = REFUNDED_BLOCK;
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
        (, bool found) = _findRequest(requestId);
        if (!found) revert RequestUnknown(requestId);
        return _requestView(requestId);
    }

    /// @notice The requests `receiver` made in `epoch`, in roster order of the uploaders (an old
    ///         epoch's request is listed until a later request reuses its slot; see the title).
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

    /// @dev Place every order of msg.sender; returns the ids, the total count and the refunds.
    function _placeOrders(uint256 taskId, uint256 epoch, uint256 myIndex, DownloadOrder[] calldata orders)
        internal
        returns (uint256[] memory ids, uint256 total, uint256 refunded)
    {
        TaskConfig storage p = _params[taskId];
        ids = new uint256[](orders.length);
        for (uint256 k = 0; k < orders.length; ++k) {
            (uint256 id, uint256 count, uint256 back) = _placeOrder(taskId, epoch, myIndex, p, orders[k]);
            ids[k] = id;
            total += count;
            refunded += back;
        }
    }

    /// @dev Check and record one (uploader, count) order of msg.sender in the pair's slot; returns
    ///      (id, count, points refunded from the slot's stale pending request).
    function _placeOrder(
        uint256 taskId,
        uint256 epoch,
        uint256 myIndex,
        TaskConfig storage p,
        DownloadOrder calldata o
    ) internal returns (uint256 id, uint256 count, uint256 refunded) {
        address uploader = o.uploader;
        count = o.count;
        if (uploader == msg.sender) revert DownloadFromSelf(taskId, uploader);
        Member storage u = _credibleMember(taskId, uploader);
        uint256 uIndex = u.index;
        {
            uint256 cap = (uint256(u.privacyPpm) * p.nParams) / PPM;
            if (count == 0 || count > cap) revert DownloadCountOutOfRange(taskId, uploader, count, cap);
        }
        id = _requestId(taskId, epoch, myIndex, uIndex);
        Request storage r = _requests[_slotKey(id)];
        if (r.amount != 0) refunded = _vacate(taskId, epoch, myIndex, uIndex, uploader, p, r);
        r.epoch = uint16(epoch);
        r.amount = uint48(count);
        r.commitBlock = 0;
        r.commitment = bytes20(0);
        emit DownloadRequested(taskId, epoch, id, msg.sender, uploader, count);
    }

    /// @dev Free the slot of msg.sender's older request to `uploader` for `epoch`: refund it if it
    ///      is still pending (returns the amount), archive it if it is committed and disputable.
    function _vacate(
        uint256 taskId,
        uint256 epoch,
        uint256 myIndex,
        uint256 uIndex,
        address uploader,
        TaskConfig storage p,
        Request storage r
    ) internal returns (uint256 refunded) {
        uint256 oldEpoch = r.epoch;
        if (oldEpoch == epoch) revert DownloadDuplicate(taskId, epoch, msg.sender, uploader);
        uint256 oldId = _requestId(taskId, oldEpoch, myIndex, uIndex);
        uint256 commitBlock = r.commitBlock;
        if (commitBlock == 0) {
            refunded = r.amount;
            uint256 missed = ++_missedUploads[taskId][uploader];
            emit RequestRefunded(taskId, oldId, uploader, msg.sender, refunded, missed);
        } else if (commitBlock != REFUNDED_BLOCK && block.number <= commitBlock + p.disputeWindow) {
            _archived[oldId] = r;
        }
    }

    /// @dev Check and record one commitment of msg.sender; `me` packs its roster index (low 16
    ///      bits) and the roster length (above). Returns the released amount.
    function _commitOne(
        uint256 taskId,
        uint256 currentEpoch,
        uint256 me,
        address[] storage roster,
        UploadCommit calldata c
    ) internal returns (uint256 amount) {
        uint256 id = c.requestId;
        {
            uint256 n = me >> 16;
            if (id >> 64 != taskId || ((id >> 16) & 0xffff) >= n || (id & 0xffff) >= n) revert RequestUnknown(id);
        }
        (Request storage r, bool found) = _findRequest(id);
        if (!found) revert RequestUnknown(id);
        if (id & 0xffff != me & 0xffff) revert UploadNotAddressedToYou(id, roster[id & 0xffff], msg.sender);
        if (r.commitBlock != 0) revert UploadNotPending(id, _stateOf(r));
        {
            uint256 epoch = (id >> 32) & 0xffffffff;
            if (epoch != currentEpoch) revert UploadWrongEpoch(id, epoch, currentEpoch);
        }
        if (c.blobDigest == bytes32(0) || c.keyHash == bytes32(0)) revert UploadEmptyCommitment(id);
        amount = r.amount;
        r.commitBlock = uint32(block.number); // blocks stay below 2^32 - 1 (REFUNDED_BLOCK)
        r.commitment = _commitment(c.blobDigest, c.keyHash);
        address receiver = _rosterAt(roster, (id >> 16) & 0xffff);
        _members[taskId][receiver].escrow -= uint80(amount);
        emit UploadCommitted(taskId, id, msg.sender, receiver, amount, c.blobDigest, c.keyHash);
    }

    function _training(uint256 taskId) internal view returns (TaskCore storage st) {
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
            (, bool found) = _findRequest(id);
            if (found) ids[count++] = id;
        }
        out = new RequestView[](count);
        for (uint256 k = 0; k < count; ++k) {
            out[k] = _requestView(ids[k]);
        }
    }

    function _requestView(uint256 id) internal view returns (RequestView memory v) {
        (Request storage r,) = _findRequest(id);
        (v.taskId, v.epoch, v.receiver, v.uploader) = _decodeRequestId(id);
        v.id = id;
        v.state = _stateOf(r);
        v.amount = r.amount;
        v.commitBlock = v.state == RequestState.Refunded ? 0 : r.commitBlock;
        v.commitment = r.commitment;
    }
}
