@{
    # The one source of the version: build.ps1 stamps it into the assembly.
    ModuleVersion        = '0.1.0'
    GUID                 = '6f0f3c2e-5b7a-4f7e-9f1d-2a4e8c1b7d30'
    RootModule           = 'FanotifyPS.dll'
    Author               = 'FanotifyPS contributors'
    CompanyName          = 'FanotifyPS'
    Copyright            = '(c) FanotifyPS contributors. MIT License.'
    Description          = 'Watch and control file access on Linux with fanotify: typed events in the pipeline, a background watcher that answers permission events, no silent loss.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('FanotifyPS.format.ps1xml')
    TypesToProcess       = @('FanotifyPS.types.ps1xml')
    CmdletsToExport      = @(
        'Start-FanotifyWatch'
        'Stop-FanotifyWatch'
        'Remove-FanotifyWatch'
        'Get-FanotifyWatch'
        'Get-FanotifyEvent'
        'New-FanotifyRule'
        'Get-FanotifyCapability'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('fanotify', 'Linux', 'filesystem', 'audit', 'security', 'PSEdition_Core')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ReleaseNotes = 'Watches with every fanotify event and scope, filters, a deny policy with audit mode, a capability probe; benchmark and fault suite.'
        }
    }
}
