// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./DppdlBase.sol";

/// @title Mutual credibility on-chain: labels digests, low-quality reports, removal by majority.
/// @notice Reports count per phase (epoch 0 = benchmarking). When a phase closes, every party
///         reported in it by a strict majority (> half) of the credible set is removed for good,
///         all at once and without cascade, and the counts start again at zero.
abstract contract Benchmarking is DppdlBase {
    // ------------------------------------------------------------------------------------------
    // errors
    // ------------------------------------------------------------------------------------------

    /// @notice A party tried to label its own samples or report itself.
    error BenchmarkSelfTarget(uint256 taskId, address party);
    /// @notice Labels for this publisher were already posted by this labeler in this phase.
    error BenchmarkLabelsAlreadyPosted(uint256 taskId, uint256 epoch, address labeler, address publisher);
    /// @notice A labels digest of zero carries nothing.
    error BenchmarkLabelsEmpty(uint256 taskId, address publisher);
    /// @notice The reporter already reported this target in the current phase.
    error BenchmarkAlreadyReported(uint256 taskId, address reporter, address target);

    // ------------------------------------------------------------------------------------------
    // events
    // ------------------------------------------------------------------------------------------

    /// @notice `labeler` posted the digest of its labels for `publisher`'s samples of `epoch`.
    event LabelsPosted(
        uint256 indexed taskId, uint256 epoch, address indexed labeler, address indexed publisher, bytes32 labelsDigest
    );
    /// @notice `reporter` reported `target` as low quality; `reports` counts this phase's reports.
    event PartyReported(uint256 indexed taskId, address indexed reporter, address indexed target, uint256 reports);
    /// @notice A strict majority of the credible set reported `party` in phase `epoch`.
    event PartyRemoved(
        uint256 indexed taskId, address indexed party, uint256 epoch, uint256 reports, uint256 credibleLeft
    );

    // ------------------------------------------------------------------------------------------
    // storage
    // ------------------------------------------------------------------------------------------

    mapping(
        uint256 taskId
            => mapping(uint256 epoch => mapping(address labeler => mapping(address publisher => bytes32)))
    ) internal _labels;

    // ------------------------------------------------------------------------------------------
    // external
    // ------------------------------------------------------------------------------------------

    /// @notice Post, in one transaction, the digests of your labels for other parties' samples.
    /// @dev Allowed while benchmarking (epoch 0) and in training epochs (fresh sample subsets).
    /// @param taskId The task.
    /// @param posts (publisher, labelsDigest) pairs; each publisher credible and not the sender.
    function postLabels(uint256 taskId, LabelPost[] calldata posts) external {
        TaskCore storage st = _running(taskId);
        _credibleMember(taskId, msg.sender);
        uint256 epoch = st.epoch;
        for (uint256 k = 0; k < posts.length; ++k) {
            address publisher = posts[k].publisher;
            bytes32 digest = posts[k].labelsDigest;
            if (publisher == msg.sender) revert BenchmarkSelfTarget(taskId, publisher);
            _credibleMember(taskId, publisher);
            if (digest == bytes32(0)) revert BenchmarkLabelsEmpty(taskId, publisher);
            mapping(address => bytes32) storage mine = _labels[taskId][epoch][msg.sender];
            if (mine[publisher] != bytes32(0)) {
                revert BenchmarkLabelsAlreadyPosted(taskId, epoch, msg.sender, publisher);
            }
            mine[publisher] = digest;
            emit LabelsPosted(taskId, epoch, msg.sender, publisher, digest);
        }
    }

    /// @notice Report parties as low quality (credibility below the threshold), in one transaction.
    /// @dev Reports count for the current phase only; when the phase closes, every party reported
    ///      by a strict majority of the credible set is removed, all at once (paper, Algorithm 1).
    /// @param taskId The task.
    /// @param targets Credible parties other than the sender, each reported at most once per phase.
    function report(uint256 taskId, address[] calldata targets) external {
        _running(taskId);
        _credibleMember(taskId, msg.sender);
        _report(taskId, targets);
    }

    // ------------------------------------------------------------------------------------------
    // views
    // ------------------------------------------------------------------------------------------

    /// @notice The labels digest `labeler` posted for `publisher`'s samples in `epoch` (0 if none).
    function labelsDigest(uint256 taskId, uint256 epoch, address labeler, address publisher)
        external
        view
        returns (bytes32)
    {
        return _labels[taskId][epoch][labeler][publisher];
    }

    /// @notice Whether `reporter` reported `target` in phase `epoch` (0 = benchmarking).
    function hasReported(uint256 taskId, uint256 epoch, address reporter, address target)
        external
        view
        returns (bool)
    {
        Member storage t = _members[taskId][target];
        if (t.status == PartyStatus.None) return false;
        return (_reportBits[taskId][epoch][reporter] >> t.index) & 1 == 1;
    }

    /// @notice The parties `reporter` reported in phase `epoch`, in roster order.
    function reportsBy(uint256 taskId, uint256 epoch, address reporter)
        external
        view
        returns (address[] memory out)
    {
        uint256 bits = _reportBits[taskId][epoch][reporter];
        address[] storage roster = _roster[taskId];
        out = new address[](_popcount(bits));
        uint256 k;
        for (uint256 i = 0; i < roster.length; ++i) {
            if ((bits >> i) & 1 == 1) out[k++] = roster[i];
        }
    }

    // ------------------------------------------------------------------------------------------
    // internal
    // ------------------------------------------------------------------------------------------

    /// @dev Record msg.sender's reports for the current phase (the caller checked the sender).
    function _report(uint256 taskId, address[] calldata targets) internal {
        uint256 epoch = _status[taskId].epoch;
        uint256 bits = _reportBits[taskId][epoch][msg.sender];
        uint256 before = bits;
        for (uint256 k = 0; k < targets.length; ++k) {
            address target = targets[k];
            if (target == msg.sender) revert BenchmarkSelfTarget(taskId, target);
            Member storage t = _credibleMember(taskId, target);
            uint256 bit = uint256(1) << t.index;
            if (bits & bit != 0) revert BenchmarkAlreadyReported(taskId, msg.sender, target);
            bits |= bit;
            t.reports += 1;
            emit PartyReported(taskId, msg.sender, target, t.reports);
        }
        if (bits != before) {
            _reportBits[taskId][epoch][msg.sender] = bits;
            _reportedMask[taskId] |= bits;
        }
    }

    /// @dev Remove, at once, every credible party that more than half of the credible set
    ///      reported this phase (decisions first, then removals: no cascade), reset the counts.
    ///      Only parties reported this phase (the bits of _reportedMask) are visited.
    function _closePhase(uint256 taskId, TaskCore storage st) internal override {
        uint256 reported = _reportedMask[taskId];
        if (reported == 0) return;
        address[] storage roster = _roster[taskId];
        uint256 credible = st.credible;
        uint256 doomed;
        for (uint256 i = 0; reported >> i != 0; ++i) {
            if ((reported >> i) & 1 == 0) continue;
            Member storage m = _members[taskId][roster[i]];
            if (m.status == PartyStatus.Credible && uint256(m.reports) * 2 > credible) {
                doomed |= uint256(1) << i;
            }
        }
        for (uint256 i = 0; reported >> i != 0; ++i) {
            if ((reported >> i) & 1 == 0) continue;
            Member storage m = _members[taskId][roster[i]];
            if ((doomed >> i) & 1 == 1) {
                m.status = PartyStatus.Removed;
                st.credible -= 1;
                emit PartyRemoved(taskId, roster[i], st.epoch, m.reports, st.credible);
            }
            m.reports = 0;
        }
        _reportedMask[taskId] = 0;
    }

    function _popcount(uint256 x) internal pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) ++c;
    }
}
