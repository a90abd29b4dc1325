// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Shared types and constants of the DPPDL contracts.

/// @dev Parts per million: a privacy level 0.1 is stored as 100_000.
uint256 constant PPM = 1_000_000;
/// @dev The paper's protocol needs at least three parties (a receiver learns only a sum of >= 2).
uint256 constant MIN_PARTIES = 3;
/// @dev Report bitmaps are one uint256 per reporter, so a roster holds at most 256 parties.
uint256 constant MAX_PARTIES = 256;
/// @dev Upper bound on |w| so every points amount fits the packed uint48/uint80 fields.
uint256 constant MAX_PARAMS = 1 << 40;

/// @notice Where a task is in its life. Training covers epochs 1..epochs; epoch 0 is benchmarking.
enum TaskState {
    None,
    Published,
    Joining,
    Benchmarking,
    Training,
    Finished,
    Cancelled
}

/// @notice A party's standing in a task.
enum PartyStatus {
    None,
    Credible,
    Removed
}

/// @notice A download request's life: escrowed, then committed (paid) or refunded.
enum RequestState {
    None,
    Pending,
    Committed,
    Refunded
}

/// @notice A dispute's life.
enum DisputeState {
    None,
    Filed,
    Answered,
    Settled
}

/// @notice How a dispute ended.
enum DisputeOutcome {
    None,
    Unanswered, // uploader did not reveal the key in time: receiver refunded, uploader marked
    ReceiverWon, // majority voted "blob invalid": receiver refunded, uploader marked
    UploaderWon, // majority voted "blob valid": deposit goes to the uploader
    NoMajority // vote window closed without a strict majority: deposit back, uploader keeps pay
}

/// @notice What a requester fixes when publishing a task. Windows are in blocks.
/// @dev Field order packs slots: specDigest | nParams..epochWindow | joinDeadline..depositPpm.
struct TaskParams {
    bytes32 specDigest; // digest of the off-chain task spec (model, data schema, thresholds)
    uint64 nParams; // |w|, number of model parameters
    uint16 rosterSize; // n, parties wanted (3..256)
    uint16 epochs; // training epochs after benchmarking (>= 1)
    uint32 benchmarkWindow; // blocks the benchmarking phase (epoch 0) lasts at most
    uint32 requestWindow; // blocks after an epoch starts during which downloads may be requested
    uint32 uploadWindow; // blocks after an epoch starts during which uploads may be committed
    uint32 epochWindow; // blocks after an epoch starts after which anyone may advance it
    uint64 joinDeadline; // last block (absolute) at which a party may join
    uint32 credibilityThresholdPpm; // c_th in ppm for the agents; 0 means the paper's (2/3)(1/n)
    uint32 disputeWindow; // blocks after a commitment during which the receiver may dispute
    uint32 answerWindow; // blocks after filing during which the uploader may reveal the key
    uint32 voteWindow; // blocks after the answer during which the others may vote
    uint32 disputeDepositPpm; // deposit = ceil(request amount * ppm / 1e6), 1..1e6
}

/// @notice TaskParams as stored: the fields an epoch's transactions read share one slot.
/// @dev Same fields as TaskParams; only the order differs (specDigest | nParams..benchmarkWindow |
///      joinDeadline..disputeDepositPpm), so requests and commitments read a single slot.
struct TaskConfig {
    bytes32 specDigest;
    uint64 nParams;
    uint16 rosterSize;
    uint16 epochs;
    uint32 requestWindow;
    uint32 uploadWindow;
    uint32 epochWindow;
    uint32 disputeWindow;
    uint32 benchmarkWindow;
    uint64 joinDeadline;
    uint32 credibilityThresholdPpm;
    uint32 answerWindow;
    uint32 voteWindow;
    uint32 disputeDepositPpm;
}

/// @notice Mutable per-task state, packed in one slot.
struct TaskStatus {
    TaskState state;
    uint16 epoch; // current phase: 0 benchmarking, 1..epochs training
    uint16 joined; // parties in the roster
    uint16 credible; // parties not removed
    uint16 doneCount; // credible parties that signalled done in the current phase
    uint64 phaseStart; // block at which the current phase started
    uint96 minted; // points minted at start (the conserved total)
}

/// @notice TaskStatus as stored, with copies of the two parameters an epoch's commitments and
///         its close read, so those transactions touch one task slot.
/// @dev minted < 2^56 (<= 256 parties * 255 * 2^40); blocks fit uint40.
struct TaskCore {
    TaskState state;
    uint16 epoch;
    uint16 joined;
    uint16 credible;
    uint16 doneCount;
    uint40 phaseStart;
    uint56 minted;
    uint16 epochs; // copy of TaskParams.epochs
    uint32 uploadWindow; // copy of TaskParams.uploadWindow
}

/// @notice Per (task, party) state, packed in one slot.
struct Member {
    PartyStatus status;
    uint8 index; // position in the roster
    uint32 privacyPpm; // declared privacy level, parts per million
    uint32 doneMark; // last phase signalled done + 1 (0: never)
    uint8 reports; // reports against this party in the current phase
    uint80 balance; // spendable points
    uint80 escrow; // points escrowed in this party's pending download requests
}

/// @dev Request.commitBlock of a refunded request (a real commitment block is never this high).
uint32 constant REFUNDED_BLOCK = type(uint32).max;

/// @notice One download request, packed in one slot; its id encodes (task, epoch, receiver, uploader).
/// @dev Storage is keyed by the id with the epoch cut to its parity, so a (receiver, uploader) pair
///      reuses its slot every other epoch (a nonzero->nonzero write instead of a fresh slot); `epoch`
///      says which request the slot holds. The state is derived: amount 0 = none, commitBlock 0 =
///      pending, REFUNDED_BLOCK = refunded, else committed. Disputed requests, and committed ones
///      still disputable when their slot is reused, are copied to an archive keyed by the full id.
struct Request {
    uint16 epoch; // the epoch of the request the slot holds
    uint48 amount; // gradient entries bought = points escrowed (>= 1)
    uint32 commitBlock; // block of the upload commitment (0 pending, REFUNDED_BLOCK refunded)
    bytes20 commitment; // first 20 bytes of keccak256(blobDigest, keyHash); full values in the event
}

/// @notice One dispute on a committed request, packed in one slot.
struct Dispute {
    DisputeState state;
    DisputeOutcome outcome;
    uint40 filedBlock;
    uint40 answeredBlock;
    uint16 voters; // eligible voters fixed at answer time (credible, not receiver nor uploader)
    uint16 validVotes;
    uint16 invalidVotes;
    uint48 deposit; // receiver's deposit, held
    uint48 heldPayment; // payment taken back from the uploader, held
}

/// @notice A roster entry as the views return it.
struct PartyView {
    address account;
    uint256 index;
    PartyStatus status;
    bytes32 publicKey; // X25519
    bytes32 samplesDigest; // digest of the DP-GAN sample blob
    uint256 privacyPpm;
    uint256 balance;
    uint256 escrow;
    uint256 reports;
    uint256 missedUploads;
    uint256 disputesLost;
    uint256 doneMark;
}

/// @notice A request as the views return it.
struct RequestView {
    uint256 id;
    uint256 taskId;
    uint256 epoch;
    address receiver;
    address uploader;
    RequestState state;
    uint256 amount;
    uint256 commitBlock;
    bytes20 commitment;
}

/// @notice One (uploader, count) pair of a batched download request.
struct DownloadOrder {
    address uploader;
    uint256 count;
}

/// @notice One commitment of a batched upload.
struct UploadCommit {
    uint256 requestId;
    bytes32 blobDigest; // sha2-256 digest of the stored blob (its CIDv1 multihash digest)
    bytes32 keyHash; // sha256(fresh symmetric key of the blob)
}

/// @notice One labels digest for another party's samples.
struct LabelPost {
    address publisher;
    bytes32 labelsDigest;
}
