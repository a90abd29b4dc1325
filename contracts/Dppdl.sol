// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import "./TaskLifecycle.sol";
import "./Disputes.sol";
import "./Recovery.sol";

/// @title DPPDL: tasks, mutual credibility, points and disputes in one deployed contract.
/// @notice The concerns live in their own abstract contracts (TaskLifecycle, Benchmarking,
///         Points, Disputes, Recovery) over one shared storage (DppdlBase), so the roster, the points and
///         the disputes need no cross-contract authorisation.
contract Dppdl is TaskLifecycle, Disputes, Recovery {}
