"""The per-space holding policy: where every device lands at enrollment, before it is vetted.

Locked down (a launcher with no apps, settings and navigation blocked, no app installs, no
account changes) and reporting everything the enrollment rules need (software info with the
security patch level, hardware, app reports). Devices that pass the rules are moved to their
effective configuration; the others are wiped or disabled.
"""

from __future__ import annotations

from typing import Any

POLICY_PREFIX = "holding-"

# What every policy of the suite reports: enrollment rules, inventory and app feedback need it.
STATUS_REPORTING_SETTINGS = {
    "applicationReportsEnabled": True,
    "softwareInfoEnabled": True,
    "hardwareStatusEnabled": True,
    "networkInfoEnabled": True,
    "deviceSettingsEnabled": True,
    "memoryInfoEnabled": True,
    "powerManagementEventsEnabled": True,
}


def holding_policy_name(enterprise: str, space: str) -> str:
    """`enterprises/E/policies/holding-<space>`."""
    return f"{enterprise}/policies/{POLICY_PREFIX}{space}"


def holding_policy() -> dict[str, Any]:
    """The AMAPI Policy body of every holding policy."""
    return {
        "kioskCustomLauncherEnabled": True,
        "kioskCustomization": {
            "deviceSettings": "SETTINGS_ACCESS_BLOCKED",
            "statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED",
            "systemNavigation": "NAVIGATION_DISABLED",
            "powerButtonActions": "POWER_BUTTON_AVAILABLE",
            "systemErrorWarnings": "ERROR_AND_WARNINGS_MUTED",
        },
        "playStoreMode": "WHITELIST",
        "installAppsDisabled": True,
        "modifyAccountsDisabled": True,
        "addUserDisabled": True,
        "networkEscapeHatchEnabled": True,
        "advancedSecurityOverrides": {
            "untrustedAppsPolicy": "DISALLOW_INSTALL",
            "developerSettings": "DEVELOPER_SETTINGS_DISABLED",
        },
        "statusReportingSettings": dict(STATUS_REPORTING_SETTINGS),
    }
