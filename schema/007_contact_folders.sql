-- Contacts are mirrored from every contact folder (the default one and its child folders),
-- each with its own delta round: a contact row names the folder it is in, so that the rows
-- of a deleted folder can leave with it and a fresh round sweeps only its own folder.
-- Rows written before this column existed have NULL until a round lists them again.

ALTER TABLE contacts ADD COLUMN folder_id TEXT;
CREATE INDEX contacts_by_folder ON contacts (user_id, folder_id);
