"""DICOM de-identification (PS3.15 Annex E, Basic Application Level Confidentiality Profile).

What is done to a file:

- every attribute of the profile's table (E.1-1) is removed (X), emptied (Z) or given a
  dummy value (D), as listed in :data:`BASIC_PROFILE`;
- every UID that is not a well-known standard UID (SOP classes, transfer syntaxes ...)
  is replaced with a fresh one (U), the same old UID always by the same new one, so
  references inside a file (or across the files of one case, with a shared ``uid_map``)
  stay consistent;
- private attributes, overlays (60xx) and curves (50xx) are removed;
- beyond the table, any remaining person name (VR PN) is emptied and any remaining date,
  date-time or time (DA, DT, TM) is emptied, in nested sequences too;
- Patient Identity Removed is set to YES and the method recorded (code 113100).

Pixel data is kept as it is: burned-in text in the stored DICOM stays (Burned In
Annotation is left as the file declares it); readers never see the DICOM itself, only
canonical renditions, which remove everything outside the ultrasound sector.
"""

from __future__ import annotations

import warnings
from collections.abc import MutableMapping
from pathlib import Path

from trials.media.errors import MediaError

#: Action per attribute keyword: "X" remove, "Z" empty, "D" dummy value.
BASIC_PROFILE: dict[str, str] = {
    # Patient
    "PatientName": "Z",
    "PatientID": "Z",
    "IssuerOfPatientID": "X",
    "IssuerOfPatientIDQualifiersSequence": "X",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "PatientBirthName": "X",
    "PatientBirthDate": "Z",
    "PatientBirthTime": "X",
    "PatientSex": "Z",
    "PatientAge": "X",
    "PatientSize": "X",
    "PatientWeight": "X",
    "PatientAddress": "X",
    "PatientMotherBirthName": "X",
    "PatientTelephoneNumbers": "X",
    "PatientTelecomInformation": "X",
    "MilitaryRank": "X",
    "BranchOfService": "X",
    "MedicalRecordLocator": "X",
    "MedicalAlerts": "X",
    "Allergies": "X",
    "CountryOfResidence": "X",
    "RegionOfResidence": "X",
    "EthnicGroup": "X",
    "Occupation": "X",
    "SmokingStatus": "X",
    "AdditionalPatientHistory": "X",
    "PregnancyStatus": "X",
    "LastMenstrualDate": "X",
    "PatientReligiousPreference": "X",
    "PatientComments": "X",
    "PatientState": "X",
    "PatientInsurancePlanCodeSequence": "X",
    "PatientPrimaryLanguageCodeSequence": "X",
    "ResponsiblePerson": "X",
    "ResponsibleOrganization": "X",
    "PatientSexNeutered": "X",
    "PatientSpeciesDescription": "X",
    "PatientBreedDescription": "X",
    "ReferencedPatientSequence": "X",
    "ReferencedPatientPhotoSequence": "X",
    "ClinicalTrialSponsorName": "X",
    "ClinicalTrialProtocolID": "X",
    "ClinicalTrialSiteID": "X",
    "ClinicalTrialSiteName": "X",
    "ClinicalTrialSubjectID": "X",
    "ClinicalTrialSubjectReadingID": "X",
    "ClinicalTrialTimePointID": "X",
    # Study, series, visit
    "AccessionNumber": "Z",
    "IssuerOfAccessionNumberSequence": "X",
    "StudyID": "Z",
    "StudyDate": "Z",
    "StudyTime": "Z",
    "SeriesDate": "X",
    "SeriesTime": "X",
    "AcquisitionDate": "X",
    "AcquisitionTime": "X",
    "AcquisitionDateTime": "X",
    "ContentDate": "Z",
    "ContentTime": "Z",
    "OverlayDate": "X",
    "OverlayTime": "X",
    "CurveDate": "X",
    "CurveTime": "X",
    "InstanceCreationDate": "X",
    "InstanceCreationTime": "X",
    "InstanceCreatorUID": "X",
    "StudyDescription": "X",
    "SeriesDescription": "X",
    "ImageComments": "X",
    "DerivationDescription": "X",
    "ProtocolName": "X",
    "AdmittingDiagnosesDescription": "X",
    "AdmittingDiagnosesCodeSequence": "X",
    "AdmissionID": "X",
    "IssuerOfAdmissionIDSequence": "X",
    "ReasonForStudy": "X",
    "RequestingService": "X",
    "RequestedProcedureDescription": "X",
    "RequestedProcedureID": "X",
    "RequestAttributesSequence": "X",
    "RequestedContrastAgent": "X",
    "ReasonForTheRequestedProcedure": "X",
    "ScheduledProcedureStepDescription": "X",
    "ScheduledProcedureStepID": "X",
    "ScheduledProcedureStepStartDate": "X",
    "ScheduledProcedureStepStartTime": "X",
    "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepID": "X",
    "PerformedProcedureStepStartDate": "X",
    "PerformedProcedureStepStartTime": "X",
    "PerformedProcedureStepEndDate": "X",
    "PerformedProcedureStepEndTime": "X",
    "PerformedLocation": "X",
    "PerformedStationName": "X",
    "PerformedStationAETitle": "X",
    "ScheduledStationName": "X",
    "ScheduledStationAETitle": "X",
    "ScheduledPerformingPhysicianName": "X",
    "ReferencedStudySequence": "X",
    "ReferencedPerformedProcedureStepSequence": "X",
    "ReferencedImageSequence": "X",
    "ReferencedSOPInstanceUID": "U",
    "SourceImageSequence": "X",
    "ReferencedFrameOfReferenceUID": "U",
    "CurrentPatientLocation": "X",
    "PatientInstitutionResidence": "X",
    "ServiceEpisodeID": "X",
    "ServiceEpisodeDescription": "X",
    "VisitComments": "X",
    "FillerOrderNumberImagingServiceRequest": "X",
    "PlacerOrderNumberImagingServiceRequest": "X",
    "OrderEnteredBy": "X",
    "OrderEntererLocation": "X",
    "OrderCallbackPhoneNumber": "X",
    "OrderCallbackTelecomInformation": "X",
    "TextComments": "X",
    "TextString": "X",
    "TopicTitle": "X",
    "TopicAuthor": "X",
    "TopicKeywords": "X",
    "TopicSubject": "X",
    "AuthorObserverSequence": "X",
    "ParticipantSequence": "X",
    "ContentCreatorName": "Z",
    "ContentCreatorIdentificationCodeSequence": "X",
    "VerifyingObserverName": "D",
    "VerifyingObserverSequence": "D",
    "VerifyingOrganization": "X",
    "PersonName": "D",
    "PersonAddress": "X",
    "PersonTelephoneNumbers": "X",
    "PersonIdentificationCodeSequence": "D",
    # Staff, institution, equipment
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X",
    "ReferringPhysicianIdentificationSequence": "X",
    "ConsultingPhysicianName": "X",
    "ConsultingPhysicianIdentificationSequence": "X",
    "PerformingPhysicianName": "X",
    "PerformingPhysicianIdentificationSequence": "X",
    "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "RequestingPhysician": "X",
    "OperatorsName": "X",
    "OperatorIdentificationSequence": "X",
    "InstitutionName": "X",
    "InstitutionAddress": "X",
    "InstitutionCodeSequence": "X",
    "InstitutionalDepartmentName": "X",
    "InstitutionalDepartmentTypeCodeSequence": "X",
    "StationName": "X",
    "DeviceSerialNumber": "X",
    "DeviceUID": "U",
    "DeviceDescription": "X",
    "DetectorID": "X",
    "GantryID": "X",
    "PlateID": "X",
    "CassetteID": "X",
    "GeneratorID": "X",
    "SourceSerialNumber": "X",
    "UDISequence": "X",
    "UniqueDeviceIdentifier": "X",
    "DeviceAlternateIdentifier": "X",
    "ModifiedAttributesSequence": "X",
    "OriginalAttributesSequence": "X",
    "DigitalSignaturesSequence": "X",
    "MACParametersSequence": "X",
    "DataSetTrailingPadding": "X",
    "IconImageSequence": "X",
    "NetworkID": "X",
    "StorageMediaFileSetUID": "U",
    "StorageMediaFileSetID": "X",
    "TimezoneOffsetFromUTC": "X",
}

#: Patient Identity Removed / De-identification Method code (DCM 113100: Basic Profile).
DEIDENTIFICATION_METHOD = "DICOM PS3.15 E.1 Basic Application Level Confidentiality Profile"

_TEMPORAL_VRS = {"DA", "DT", "TM"}


def deidentify_dicom(
    src: str | Path, dst: str | Path, *, uid_map: MutableMapping[str, str] | None = None
) -> None:
    """Write a de-identified copy of the DICOM file ``src`` to ``dst``.

    ``uid_map`` (old UID → new UID) may be shared between the files of one case so that
    their study and frame-of-reference UIDs stay equal to each other after replacement.

    Raises
    ------
    MediaError
        If ``src`` is not a readable DICOM file.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(src)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError) as exc:
        raise MediaError("the DICOM file cannot be read", code="undecodable") from exc
    uids = uid_map if uid_map is not None else {}
    ds.remove_private_tags()
    _clean(ds, uids)
    meta = ds.file_meta
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword in (
        "SourceApplicationEntityTitle",
        "SendingApplicationEntityTitle",
        "ReceivingApplicationEntityTitle",
        "PrivateInformation",
        "PrivateInformationCreatorUID",
    ):
        if keyword in meta:
            delattr(meta, keyword)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    code = pydicom.Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = pydicom.Sequence([code])
    ds.save_as(dst, enforce_file_format=True)


def _clean(ds: object, uids: MutableMapping[str, str]) -> None:
    """Apply the profile to one dataset and, recursively, to its sequences."""
    from pydicom.dataset import Dataset

    assert isinstance(ds, Dataset)
    for elem in list(ds.iterall() if False else ds):
        tag = elem.tag
        group = tag.group
        if (
            tag.is_private
            or (0x5000 <= group <= 0x50FF)
            or (0x6000 <= group <= 0x60FF and group % 2 == 0)
        ):
            del ds[tag]
            continue
        action = BASIC_PROFILE.get(elem.keyword)
        if action == "X":
            del ds[tag]
            continue
        if action == "Z":
            elem.value = [] if elem.VR == "SQ" else ""
            continue
        if action == "D":
            _dummy(elem)
            continue
        if elem.VR == "SQ":
            for item in elem.value:
                _clean(item, uids)
            continue
        if elem.VR == "UI":
            elem.value = _replace_uids(elem.value, uids)
        elif elem.VR == "PN" or elem.VR in _TEMPORAL_VRS:
            elem.value = ""


def _dummy(elem: object) -> None:
    from pydicom.dataelem import DataElement

    assert isinstance(elem, DataElement)
    if elem.VR == "SQ":
        elem.value = []
    elif elem.VR == "PN":
        elem.value = "ANONYMOUS"
    elif elem.VR in _TEMPORAL_VRS:
        elem.value = ""
    else:
        elem.value = "ANONYMIZED"


def _replace_uids(value: object, uids: MutableMapping[str, str]) -> object:
    from pydicom.multival import MultiValue

    if isinstance(value, MultiValue | list):
        return [_replace_uid(str(v), uids) for v in value]
    return _replace_uid(str(value), uids) if value else value


def _replace_uid(uid: str, uids: MutableMapping[str, str]) -> str:
    from pydicom.uid import UID, generate_uid

    if UID(uid).name != uid:  # a registered standard UID (SOP class, transfer syntax ...)
        return uid
    if uid not in uids:
        uids[uid] = generate_uid()
    return uids[uid]


def dicom_pixel_spacing_of(path: str | Path) -> tuple[float, float] | None:
    """(x, y) millimetres per pixel that the DICOM file ``path`` declares (its ultrasound
    region's Physical Delta X/Y, else Pixel Spacing); None when it declares none or is not
    a readable DICOM file. Reads the header only."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from core.video import dicom_pixel_spacing

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        return dicom_pixel_spacing(ds)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError):
        return None
